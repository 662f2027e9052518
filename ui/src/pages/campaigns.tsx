/** Campaigns: the list, and one campaign with its template, call_url, activation, test trigger, launches and log. */
import { useState } from 'preact/hooks';
import { type Campaign, type CampaignStats, call, get, handedOver } from '../api.ts';
import { Card, ErrorBox, Fields, HtmlFrame, Json, ListTable, Load, Page, StatusBadge, Time } from '../components.tsx';
import { type Loaded, useLoad, useNames } from '../hooks.ts';
import { useCan } from '../role.ts';
import { href } from '../router.ts';
import { LaunchTable } from './launches.tsx';
import { TestTrigger } from './test-trigger.tsx';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function CampaignsPage() {
  const list = useLoad(async () => call('campaigns/triggers/list', { limit: 1000 }), []);
  const can = useCan();
  const names = useNames();
  return (
    <Page title="Campaigns" actions={can('write') && <a class="button" href="#/campaigns/new">New campaign</a>}>
      <Load loaded={list}>
        {({ data, extra }) => (
          <Card>
            <ListTable
              rows={data}
              rowKey={(c) => c.id}
              empty={`No campaigns yet.${can('write') ? ' New campaign (above) sets one up: it needs a database, a resource and a template.' : ''}`}
              columns={[
                { head: 'Id', cell: (c) => c.id },
                { head: 'Name', cell: (c) => <a href={`#/campaigns/${c.id}`}>{c.name}</a> },
                { head: 'State', cell: (c) => <StatusBadge status={c.is_active ? 'active' : 'inactive'} /> },
                { head: 'Trigger', cell: (c) => c.trigger_type },
                { head: 'Channel', cell: (c) => c.send_channel },
                { head: 'Database', cell: (c) => names.value?.dbs[c.db_id] ?? c.db_id, class: 'num' },
                { head: 'Updated', cell: (c) => <Time iso={c.updated} /> },
              ]}
            />
            <p class="muted small">{plural(Number(extra.total_count ?? data.length), 'campaign')}</p>
          </Card>
        )}
      </Load>
    </Page>
  );
}

function TemplatePreview({ campaign, variant }: { campaign: Campaign; variant: number }) {
  const item = campaign.content[variant] ?? campaign.content[0];
  const template = useLoad(() => get('templates/get', { id: item.message_id }), [item.message_id]);
  const ab = campaign.content.length > 1 ? `variant ${variant}, ` : '';
  return (
    <Card title={`Template: ${template.value?.name ?? `#${item.message_id}`}`}>
      {ab && <p class="muted small">{`A/B ${ab}template #${item.message_id}`}</p>}
      <Load loaded={template}>
        {(t) => {
          const ch = t.channels.find((c) => c.sid === campaign.send_channel);
          if (!ch) return <p class="error">The template has no {campaign.send_channel} channel.</p>;
          const overrides = Object.entries(item).filter(([k]) => k !== 'message_id' && k !== 'weight');
          const f: Record<string, string> = { ...ch.fields, ...Object.fromEntries(overrides.map(([k, v]) => [k, String(v)])) };
          return (
            <>
              <Fields rows={Object.entries(f).filter(([k]) => k !== 'html' && k !== 'text' && k !== 'body').map(([k, v]) => [k, <code>{String(v)}</code>])} />
              {f.html && <HtmlFrame html={f.html} title="template HTML" />}
              {(f.text ?? f.body) && <pre class="text-body">{f.text ?? f.body}</pre>}
              <p class="muted small">The template as written: placeholders such as {'{lead._fname}'} are filled in when a message is sent (Preview below shows them filled).</p>
            </>
          );
        }}
      </Load>
    </Card>
  );
}

const share = (w: number, all: number) => `${Math.round((w / all) * 100)}%`;

/** The campaign's A/B variants with their weights, and its messages counted per variant (campaigns/stats). */
function Variants({ campaign, stats, shown, onShow }: { campaign: Campaign; stats: Loaded<CampaignStats>; shown: number; onShow: (v: number) => void }) {
  const weights = campaign.content.map((c) => c.weight ?? 1);
  const all = weights.reduce((a, b) => a + b, 0);
  const counted = (v: number) => stats.value?.variants.filter((l) => l.variant === v) ?? [];
  const sum = (v: number, pick: (s: CampaignStats['variants'][number]) => number) => counted(v).reduce((a, l) => a + pick(l), 0);
  return (
    <Card title={campaign.content.length > 1 ? `A/B variants (${campaign.content.length})` : 'Content'}>
      <ErrorBox error={stats.error} />
      <table class="table" id="variants">
        <thead>
          <tr>
            <th>Variant</th>
            <th>Template</th>
            <th class="num">Weight</th>
            <th class="num">Messages</th>
            <th class="num">Sent</th>
            <th class="num">Captured</th>
            <th class="num">Failed</th>
            <th class="num">Skipped</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {campaign.content.map((c, v) => (
            <tr class={campaign.content.length > 1 && v === shown ? 'selected' : ''}>
              <td>{v}</td>
              <td>#{c.message_id}</td>
              <td class="num">
                {weights[v]} ({share(weights[v], all)})
              </td>
              <td class="num">{sum(v, (l) => l.total)}</td>
              <td class="num good">{sum(v, (l) => handedOver(l.statuses))}</td>
              <td class="num">{sum(v, (l) => l.statuses.captured ?? 0)}</td>
              <td class={`num ${sum(v, (l) => l.statuses.failed ?? 0) ? 'bad' : ''}`}>{sum(v, (l) => l.statuses.failed ?? 0)}</td>
              <td class="num">{sum(v, (l) => l.statuses.skipped ?? 0)}</td>
              <td>
                {campaign.content.length > 1 && (
                  <button type="button" class="link" disabled={v === shown} onClick={() => onShow(v)}>
                    show
                  </button>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted small">
        Each recipient gets one variant by weight, the same one on every launch (docs/api.md, A/B content). Counts are of all this campaign's messages
        {stats.value ? `: ${stats.value.total}` : ''}.
      </p>
    </Card>
  );
}

const rate = (n: number, of: number) => (of > 0 ? ` (${Math.round((n / of) * 1000) / 10}% of sent)` : '');

/** Opens, clicks and unsubscribes of the campaign's email (campaigns/stats engagement): a person's, and a machine's apart. */
function EngagementCard({ stats }: { stats: Loaded<CampaignStats> }) {
  const s = stats.value;
  if (!s) return null;
  const e = s.engagement;
  const sent = s.variants.reduce((n, v) => n + handedOver(v.statuses), 0);
  return (
    <Card title="Opens, clicks, unsubscribes">
      <Fields
        rows={[
          ['Opened', `${e.opened}${rate(e.opened, sent)}, ${plural(e.opens, 'open')} in all`],
          ['Clicked', `${e.clicked}${rate(e.clicked, sent)}, ${plural(e.clicks, 'click')} in all`],
          ['Unsubscribed', `${e.unsubscribed}${rate(e.unsubscribed, sent)}`],
          ['By machines', `${plural(e.machine_opens, 'open')}, ${plural(e.machine_clicks, 'click')} (not counted above)`],
        ]}
      />
      <p class="muted small">
        Opens and clicks are counted where the resource switches them on (email.track_opens, email.track_clicks); unsubscribes through the mail's List-Unsubscribe
        header or its {'{unsubscribe}'} link.
      </p>
    </Card>
  );
}

export function CampaignPage({ id }: { id: number }) {
  const campaign = useLoad(() => get('campaigns/triggers/get', { id }), [id]);
  const launches = useLoad(() => get('launches/list', { campaign_id: id, limit: 10 }), [id], 5000);
  const stats = useLoad(() => get('campaigns/stats', { id }), [id], 5000);
  const log = useLoad(() => get('campaigns/log_v2', { id, limit: 20 }), [id]);
  const [error, setError] = useState<Error>();
  const [shown, setShown] = useState(0);
  const setActive = async (active: boolean) => {
    setError(undefined);
    try {
      await call(active ? 'campaigns/activate' : 'campaigns/deactivate', { id });
      campaign.reload();
      log.reload();
    } catch (err) {
      setError(err as Error);
    }
  };
  const c = campaign.value;
  const can = useCan();
  const names = useNames();
  return (
    <Page
      title={c ? c.name : `Campaign #${id}`}
      actions={
        c &&
        can('write') && (
          <>
            <a class="button secondary" href={`#/campaigns/${id}/edit`}>
              Edit
            </a>
            {c.is_active ? (
          <button type="button" class="secondary" onClick={() => setActive(false)}>
            Deactivate
          </button>
        ) : (
          <button type="button" onClick={() => setActive(true)}>
            Activate
          </button>
        )}
          </>
        )
      }
    >
      <ErrorBox error={error} />
      <Load loaded={campaign}>
        {(c) => (
          <>
            <div class="grid2">
              <Card title="Campaign">
                <Fields
                  rows={[
                    ['Id', c.id],
                    ['State', <StatusBadge status={c.is_active ? 'active' : 'inactive'} />],
                    ['Trigger', c.trigger_type],
                    ['Channel', c.send_channel],
                    ['Resource', <a href={`#/resources/${c.resource_id}`}>{names.value?.resources[c.resource_id] ?? `#${c.resource_id}`}</a>],
                    ['Database', <a href={`#/databases/${c.db_id}`}>{names.value?.dbs[c.db_id] ?? `#${c.db_id}`}</a>],
                    ['Skip minutes', c.skip_minutes],
                    ['Content filter', c.content_filter ? <Json value={c.content_filter} /> : null],
                    ['call_url', c.call_url ? <code class="copy">{c.call_url}</code> : null],
                    ['Created', <Time iso={c.created} />],
                    ['Messages', <a href={href('messages', { campaign_id: c.id })}>all messages of this campaign</a>],
                  ]}
                />
              </Card>
              <TemplatePreview campaign={c} variant={shown} />
            </div>
            <Variants campaign={c} stats={stats} shown={shown} onShow={setShown} />
            {c.send_channel === 'email' && <EngagementCard stats={stats} />}
            {c.trigger_type === 'api_call' && can('launch') && <TestTrigger
                campaign={c}
                onLaunched={() => {
                  launches.reload();
                  stats.reload();
                  log.reload();
                }}
              />}
          </>
        )}
      </Load>
      <Card title="Launches">
        <Load loaded={launches}>{(l) => <LaunchTable launches={l} />}</Load>
      </Card>
      <Card title="Log">
        <Load loaded={log}>
          {(rows) =>
            rows.length === 0 ? (
              <p class="muted">Nothing logged.</p>
            ) : (
              <table class="table compact">
                <tbody>
                  {rows.map((r) => (
                    <tr>
                      <td class="shrink">
                        <Time iso={r.time} />
                      </td>
                      <td class="shrink">
                        <StatusBadge status={r.level} />
                      </td>
                      <td>{r.message}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )
          }
        </Load>
      </Card>
    </Page>
  );
}
