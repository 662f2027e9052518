/** Messages: the log with filters and cursor paging, and one message with its history and rendered body. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { CHANNELS, call, get, STATUSES } from '../api.ts';
import { AnyOf, Card, Fields, Json, ListTable, Load, Page, StatusBadge, Time } from '../components.tsx';
import { campaignName, useCampaigns, useLoad } from '../hooks.ts';
import { useCan } from '../role.ts';
import { AsSent, Body } from './as-sent.tsx';
import { Captured } from './outbox.tsx';
import { href, navigate } from '../router.ts';

const FILTERS = ['email', 'phone', 'campaign_id', 'launch_id', 'status', 'channel', 'profile_id'] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

function FilterForm({ filters, campaigns }: { filters: Filters; campaigns: { id: number; name: string }[] }) {
  const [f, setF] = useState<Filters>(filters);
  const set = (k: keyof Filters) => (value: string) => setF({ ...f, [k]: value });
  return (
    <form
      class="filters"
      name="filters"
      onSubmit={(e) => {
        e.preventDefault();
        navigate(href('messages', f));
      }}
    >
      <label>
        Email
        <input name="email" type="email" size={24} value={f.email ?? ''} onInput={(e) => set('email')(e.currentTarget.value)} />
      </label>
      <label>
        Phone
        <input name="phone" size={14} value={f.phone ?? ''} onInput={(e) => set('phone')(e.currentTarget.value)} />
      </label>
      <AnyOf label="Campaign" name="campaign_id" value={f.campaign_id ?? ''} options={campaigns.map((c) => [String(c.id), c.name])} onChange={set('campaign_id')} />
      <label>
        Launch
        <input name="launch_id" inputMode="numeric" size={8} value={f.launch_id ?? ''} onInput={(e) => set('launch_id')(e.currentTarget.value)} />
      </label>
      <AnyOf label="Status" name="status" value={f.status ?? ''} options={STATUSES} onChange={set('status')} />
      <AnyOf label="Channel" name="channel" value={f.channel ?? ''} options={CHANNELS} onChange={set('channel')} />
      <label>
        Profile id
        <input name="profile_id" size={26} value={f.profile_id ?? ''} onInput={(e) => set('profile_id')(e.currentTarget.value)} />
      </label>
      <button type="submit">Filter</button>
      <a class="button secondary" href="#/messages">
        Clear
      </a>
    </form>
  );
}

/** The API's body for the filters in the URL: ids as numbers, empty ones left out. */
function listBody(q: Record<string, string>) {
  const body: Record<string, unknown> = {};
  for (const k of FILTERS) if (q[k]) body[k] = k === 'campaign_id' || k === 'launch_id' ? Number(q[k]) : q[k];
  if (q.cursor) body.cursor = Number(q.cursor);
  return body;
}

export function MessagesPage({ query }: { query: Record<string, string> }) {
  const campaigns = useCampaigns();
  const key = JSON.stringify(query);
  const page = useLoad(() => call('messages/list', { ...listBody(query), limit: 50 }), [key], 5000);
  const filters: Filters = Object.fromEntries(FILTERS.filter((k) => query[k]).map((k) => [k, query[k]]));
  return (
    <Page title="Messages">
      <FilterForm key={key} filters={filters} campaigns={campaigns.value ?? []} />
      <Load loaded={page}>
        {({ data, extra }) => (
          <Card>
            <ListTable
              id="messages"
              rows={data}
              rowKey={(m) => m.id}
              empty={`No messages${Object.keys(filters).length ? ' match these filters' : ' yet'}.`}
              columns={[
                { head: 'Id', cell: (m) => <a href={`#/messages/${m.id}`}>#{m.id}</a> },
                { head: 'Created', cell: (m) => <Time iso={m.created} />, class: 'nowrap' },
                { head: 'Campaign', cell: (m) => campaignName(campaigns.value, m.campaign_id) },
                { head: 'Launch', cell: (m) => <a href={`#/launches/${m.launch_id}`}>#{m.launch_id}</a> },
                { head: 'Channel', cell: (m) => m.channel },
                {
                  head: 'To',
                  cell: (m) =>
                    m.address ? (
                      <a href={href('messages', m.channel === 'sms' ? { phone: m.address } : m.channel === 'email' ? { email: m.address } : { profile_id: m.profile_id })}>{m.address}</a>
                    ) : (
                      <span class="muted">{m.profile_id}</span>
                    ),
                  class: 'ellipsis',
                },
                { head: 'Status', cell: (m) => <StatusBadge status={m.status} /> },
                { head: 'Attempts', cell: (m) => m.attempts, class: 'num' },
                { head: 'Why', cell: (m) => <span class="muted" title={m.last_error ?? m.skip_reason ?? ''}>{m.last_error ?? m.skip_reason ?? ''}</span>, class: 'ellipsis' },
              ]}
            />
            <div class="pager">
              {query.cursor && <a href={href('messages', filters)}>« Newest</a>}
              {extra.next_cursor !== undefined && <a href={href('messages', { ...filters, cursor: String(extra.next_cursor) })}>Older »</a>}
            </div>
          </Card>
        )}
      </Load>
    </Page>
  );
}

/** A person's opens (or clicks), and a machine's apart: those are not counted as read (docs/api.md, Opens and clicks). */
const engagementOf = (person: number, machine: number) => (
  <span>
    {person}
    {machine > 0 && <span class="muted"> (+{machine} by machines)</span>}
  </span>
);

export function MessagePage({ id }: { id: number }) {
  const message = useLoad(() => get('messages/get', { id }), [id], 5000);
  const captured = useLoad(() => get('outbox/list', { message_id: id, limit: 1 }), [id]);
  const campaigns = useCampaigns();
  const [acted, setActed] = useState<{ ok?: string; error?: string }>({});
  const can = useCan();
  const act = async (method: 'messages/retry' | 'messages/cancel', done: string) => {
    try {
      await call(method, { ids: [id] });
      setActed({ ok: done });
      message.reload();
    } catch (e) {
      setActed({ error: (e as Error).message });
    }
  };
  const status = message.value?.status;
  const actions = can('write') && (
    <>
      {status === 'failed' && (
        <button type="button" onClick={() => act('messages/retry', 'Queued again.')}>
          Retry
        </button>
      )}
      {(status === 'queued' || status === 'waiting') && (
        <button type="button" class="secondary" onClick={() => act('messages/cancel', 'Cancelled.')}>
          Cancel
        </button>
      )}
    </>
  );
  return (
    <Page title={`Message #${id}`} actions={actions}>
      {acted.ok && <div class="result" role="status">{acted.ok}</div>}
      {acted.error && <div class="error" role="alert">{acted.error}</div>}
      <Load loaded={message}>
        {(m) => (
          <>
            <div class="grid2">
              <Card title="Message">
                <Fields
                  rows={[
                    ['Status', <StatusBadge status={m.status} />],
                    ['Campaign', <a href={`#/campaigns/${m.campaign_id}`}>{campaignName(campaigns.value, m.campaign_id)}</a>],
                    ['Launch', <a href={`#/launches/${m.launch_id}`}>#{m.launch_id}</a>],
                    ['Profile', <a href={href('messages', { profile_id: m.profile_id })}>{m.profile_id}</a>],
                    ['Channel', m.channel],
                    ['To', m.address],
                    ['Variant', m.variant === null ? null : `${m.variant} (template #${m.template_id})`],
                    ['Attempts', m.attempts],
                    ['Last error', m.last_error && <span class="bad">{m.last_error}</span>],
                    ['Skip reason', m.skip_reason],
                    ['Next attempt', m.next_attempt && <Time iso={m.next_attempt} />],
                    ...(m.channel === 'email'
                      ? ([
                          ['Opens', engagementOf(m.opens, m.machine_opens)],
                          ['Clicks', engagementOf(m.clicks, m.machine_clicks)],
                          ['Unsubscribed', m.unsubscribed ? <Time iso={m.unsubscribed} /> : <span class="muted">no</span>],
                        ] as [string, ComponentChildren][])
                      : []),
                    ['Created', <Time iso={m.created} />],
                    [m.status === 'captured' ? 'Captured' : 'Sent', <Time iso={m.sent} />],
                    [
                      'Outbox',
                      captured.value?.[0] ? <a href={`#/outbox/${captured.value[0].id}`}>captured as #{captured.value[0].id}</a> : <span class="muted">not captured</span>,
                    ],
                  ]}
                />
              </Card>
              <Card title="History">
                <table class="table compact" id="history">
                  <thead>
                    <tr>
                      <th>Time</th>
                      <th>Status</th>
                      <th>Detail (attempts, provider answers)</th>
                    </tr>
                  </thead>
                  <tbody>
                    {m.history.map((h) => (
                      <tr>
                        <td class="nowrap" title={h.time}>
                          {new Date(h.time).toLocaleString()}
                        </td>
                        <td>
                          <StatusBadge status={h.status} />
                        </td>
                        <td>{h.detail ?? ''}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </Card>
            </div>
            {m.sent_copy ? (
              <Card title="As sent">
                <AsSent m={m} c={m.sent_copy} />
              </Card>
            ) : captured.value?.[0] ? (
              <Card title="As captured: From, To, subject, parts, headers, attachments">
                <Captured id={captured.value[0].id} />
              </Card>
            ) : (
              <Card title={m.subject ? `Body: ${m.subject}` : 'Body'}>
                <Body m={m} />
                {m.attachments.length > 0 && <p>Attachments: {m.attachments.map((a) => `${a.name} (${a.mime}, ${a.size} bytes)`).join(', ')}</p>}
              </Card>
            )}
            <div class="grid2">
              <Card title="content">
                <Json value={m.content} />
              </Card>
              <Card title="custom_data">
                <Json value={m.custom_data} />
              </Card>
            </div>
          </>
        )}
      </Load>
    </Page>
  );
}
