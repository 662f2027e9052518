/** Campaigns: the list, and one campaign with its template, call_url, activation, test trigger, launches and log. */
import { useState } from 'preact/hooks';
import { type Campaign, call, get, type Launch, type Message } from '../api.ts';
import { Card, ErrorBox, Fields, HtmlFrame, Json, Load, Page, StatusBadge, Time } from '../components.tsx';
import { useLoad } from '../hooks.ts';
import { href } from '../router.ts';
import { LaunchTable } from './launches.tsx';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export function CampaignsPage() {
  const list = useLoad(async () => call<Campaign[]>('campaigns/triggers/list', { limit: 1000 }), []);
  return (
    <Page title="Campaigns">
      <Load loaded={list}>
        {({ data, extra }) => (
          <Card>
            {data.length === 0 ? (
              <p class="muted">No campaigns yet: create one with campaigns/triggers/add (docs/api.md).</p>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th>Id</th>
                    <th>Name</th>
                    <th>State</th>
                    <th>Trigger</th>
                    <th>Channel</th>
                    <th class="num">Database</th>
                    <th>Updated</th>
                  </tr>
                </thead>
                <tbody>
                  {data.map((c) => (
                    <tr key={c.id}>
                      <td>{c.id}</td>
                      <td>
                        <a href={`#/campaigns/${c.id}`}>{c.name}</a>
                      </td>
                      <td>
                        <StatusBadge status={c.is_active ? 'active' : 'inactive'} />
                      </td>
                      <td>{c.trigger_type}</td>
                      <td>{c.send_channel}</td>
                      <td class="num">{c.db_id}</td>
                      <td>
                        <Time iso={c.updated} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
            <p class="muted small">{plural(Number(extra.total_count ?? data.length), 'campaign')}</p>
          </Card>
        )}
      </Load>
    </Page>
  );
}

interface Template {
  id: number;
  name: string;
  channels: { sid: string; fields: Record<string, string> }[];
}

function TemplatePreview({ campaign }: { campaign: Campaign }) {
  const item = campaign.content[0];
  const template = useLoad(() => get<Template>('templates/get', { id: item.message_id }), [item.message_id]);
  return (
    <Card title={`Template: ${template.value?.name ?? `#${item.message_id}`}`}>
      <Load loaded={template}>
        {(t) => {
          const ch = t.channels.find((c) => c.sid === campaign.send_channel);
          if (!ch) return <p class="error">The template has no {campaign.send_channel} channel.</p>;
          const f: Record<string, string> = { ...ch.fields, ...Object.fromEntries(Object.entries(item).filter(([k]) => k !== 'message_id').map(([k, v]) => [k, String(v)])) };
          return (
            <>
              <Fields rows={Object.entries(f).filter(([k]) => k !== 'html' && k !== 'text' && k !== 'body').map(([k, v]) => [k, <code>{String(v)}</code>])} />
              {f.html && <HtmlFrame html={f.html} title="template HTML" />}
              {(f.text ?? f.body) && <pre class="text-body">{f.text ?? f.body}</pre>}
              <p class="muted small">The template as written: placeholders such as {'{lead._fname}'} are filled in when a message is sent.</p>
            </>
          );
        }}
      </Load>
    </Card>
  );
}

const MATCHING = [
  ['email', 'Email'],
  ['phone', 'Phone'],
  ['profile_id', 'Profile id'],
] as const;

/** 128 random bits in hex (crypto.randomUUID exists only on HTTPS and localhost pages). */
const requestId = () => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

const PENDING = ['queued', 'waiting', 'sending'];

interface TriggerResult {
  launchId: number | null;
  duplicate: boolean;
  messages: Message[];
}

/** Sends the campaign to one profile now, through campaigns/triggers/start, and shows what it made. */
function TestTrigger({ campaign, onLaunched }: { campaign: Campaign; onLaunched: () => void }) {
  const [matching, setMatching] = useState<string>('email');
  const [value, setValue] = useState('');
  const [content, setContent] = useState('{}');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error>();
  const [result, setResult] = useState<TriggerResult>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    setResult(undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(content || '{}');
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('content must be a JSON object');
    } catch (err) {
      setError(new Error(`content: ${(err as Error).message}`));
      return;
    }
    setBusy(true);
    try {
      // Each press is its own trigger: a fresh Request-ID keeps deduplication from answering the previous one.
      const answer = await call('campaigns/triggers/start', { id: campaign.id, matching, [matching]: value.trim(), content: parsed }, { 'Request-ID': requestId() });
      const launchId = Number(answer.headers.get('Launch-Id')) || null;
      const duplicate = answer.headers.get('Duplicate-Request') === 'true';
      setBusy(false);
      onLaunched();
      // Follow the message until it leaves the queue (a few seconds at most when the workers run).
      for (let i = 0; launchId && i < 30; i++) {
        const messages = await get<Message[]>('messages/list', { launch_id: launchId });
        setResult({ launchId, duplicate, messages });
        if (!messages.some((m) => PENDING.includes(m.status))) break;
        await new Promise((r) => setTimeout(r, 1000));
      }
      onLaunched();
      if (!launchId) setResult({ launchId, duplicate, messages: [] });
    } catch (err) {
      setError(err as Error);
    } finally {
      setBusy(false);
    }
  };
  return (
    <Card title="Test trigger">
      <form class="form" onSubmit={submit} name="test-trigger">
        <div class="row">
          <label>
            Find the profile by
            <select name="matching" value={matching} onChange={(e) => setMatching(e.currentTarget.value)}>
              {MATCHING.map(([v, l]) => (
                <option value={v}>{l}</option>
              ))}
            </select>
          </label>
          <label class="grow">
            Value
            <input name="value" value={value} onInput={(e) => setValue(e.currentTarget.value)} required placeholder={matching === 'email' ? 'john@example.com' : matching === 'phone' ? '+79000000000' : '24 hex characters'} />
          </label>
        </div>
        <label>
          content (JSON: {'{apicontent.*}'} in the template)
          <textarea name="content" rows={4} value={content} onInput={(e) => setContent(e.currentTarget.value)} spellcheck={false} />
        </label>
        <p class="muted small">Salvo has no dry run yet: this sends the message for real (to the outbox when no SMTP server is configured).</p>
        <button type="submit" disabled={busy || !campaign.is_active}>
          {busy ? 'Sending…' : 'Send now'}
        </button>
        {!campaign.is_active && <span class="muted small"> Activate the campaign to send.</span>}
      </form>
      <ErrorBox error={error} />
      {result && (
        <div class="result" role="status">
          <p>
            Launched{result.launchId && (
              <>
                {' '}
                as <a href={href('messages', { launch_id: result.launchId })}>launch #{result.launchId}</a>
              </>
            )}
            {result.duplicate && ' (a repeat: deduplication answered the first call)'}.
          </p>
          {result.messages.map((m) => (
            <p>
              <a href={`#/messages/${m.id}`}>Message #{m.id}</a> to {m.address ?? m.profile_id}: <StatusBadge status={m.status} />
              {m.skip_reason && <span class="muted"> ({m.skip_reason})</span>}
            </p>
          ))}
        </div>
      )}
    </Card>
  );
}

export function CampaignPage({ id }: { id: number }) {
  const campaign = useLoad(() => get<Campaign>('campaigns/triggers/get', { id }), [id]);
  const launches = useLoad(() => get<Launch[]>('launches/list', { campaign_id: id, limit: 10 }), [id], 5000);
  const log = useLoad(() => get<{ level: string; message: string; time: string }[]>('campaigns/log_v2', { id, limit: 20 }), [id]);
  const [error, setError] = useState<Error>();
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
  return (
    <Page
      title={c ? c.name : `Campaign #${id}`}
      actions={
        c &&
        (c.is_active ? (
          <button type="button" class="secondary" onClick={() => setActive(false)}>
            Deactivate
          </button>
        ) : (
          <button type="button" onClick={() => setActive(true)}>
            Activate
          </button>
        ))
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
                    ['Resource', c.resource_id],
                    ['Database', c.db_id],
                    ['Skip minutes', c.skip_minutes],
                    ['Content filter', c.content_filter ? <Json value={c.content_filter} /> : null],
                    ['call_url', c.call_url ? <code class="copy">{c.call_url}</code> : null],
                    ['Created', <Time iso={c.created} />],
                    ['Messages', <a href={href('messages', { campaign_id: c.id })}>all messages of this campaign</a>],
                  ]}
                />
              </Card>
              <TemplatePreview campaign={c} />
            </div>
            {c.trigger_type === 'api_call' && <TestTrigger campaign={c} onLaunched={launches.reload} />}
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
