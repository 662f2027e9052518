/** Outbox: messages captured instead of sent, shown like a development mail catcher. */
import { useState } from 'preact/hooks';
import { CHANNELS, call, get, type OutboxEntry } from '../api.ts';
import { AnyOf, Card, ErrorBox, Fields, HeaderTable, HtmlFrame, Load, Page, Tabs, Time } from '../components.tsx';
import { useLoad } from '../hooks.ts';
import { href, navigate } from '../router.ts';

/** The header block of a MIME message, unfolded, each header once per occurrence; encoded words decoded. */
function mimeHeaders(raw: string): [string, string][] {
  const end = raw.search(/\r?\n\r?\n/);
  const block = (end < 0 ? raw : raw.slice(0, end)).replace(/\r?\n[ \t]+/g, ' ');
  return block
    .split(/\r?\n/)
    .filter((l) => l.includes(':'))
    .map((l) => {
      const i = l.indexOf(':');
      return [l.slice(0, i), decodeWords(l.slice(i + 1).trim())];
    });
}

/** RFC 2047 encoded words (=?UTF-8?B?...?= and =?UTF-8?Q?...?=), as nodemailer writes non-ASCII headers. */
function decodeWords(v: string): string {
  return v.replace(/=\?([^?]+)\?([BQ])\?([^?]*)\?=\s*(?==\?)?/gi, (_m, charset: string, enc: string, text: string) => {
    try {
      const bytes =
        enc.toUpperCase() === 'B'
          ? Uint8Array.from(atob(text), (c) => c.charCodeAt(0))
          : Uint8Array.from(text.replace(/_/g, ' ').replace(/=([0-9A-F]{2})/gi, (_x, h: string) => String.fromCharCode(parseInt(h, 16))), (c) => c.charCodeAt(0));
      return new TextDecoder(charset).decode(bytes);
    } catch {
      return _m;
    }
  });
}

const TABS = ['HTML', 'Text', 'Headers', 'Raw'] as const;

/** Fetches the attachment through the API and hands it to the browser as a download. */
async function download(entry: OutboxEntry, index: number) {
  const a = await get('outbox/attachment', { id: entry.id, index });
  const base64 = a.data.slice(a.data.indexOf(',') + 1);
  const blob = new Blob([Uint8Array.from(atob(base64), (c) => c.charCodeAt(0))], { type: a.mime });
  const url = URL.createObjectURL(blob);
  const link = Object.assign(document.createElement('a'), { href: url, download: a.name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One captured message as a mail catcher shows it: From, To, subject, HTML, text, headers, raw, attachments (also on its message page). */
export function Captured({ id }: { id: number }) {
  const entry = useLoad(() => get('outbox/get', { id }), [id]);
  const [tab, setTab] = useState<(typeof TABS)[number]>('HTML');
  const [error, setError] = useState<Error>();
  return (
    <Load loaded={entry}>
      {(e) => {
        const shown = e.html === null && tab === 'HTML' ? 'Text' : tab;
        const attachments = e.extra.attachments ?? [];
        return (
          <div class="mail">
            <h2 class="mail-subject">{e.subject ?? (e.channel === 'sms' ? 'SMS' : '(no subject)')}</h2>
            <Fields
              rows={[
                ['From', e.sender],
                ['To', e.recipient],
                ['Channel', e.channel],
                ['Captured', <Time iso={e.created} />],
                ['Message', <a href={`#/messages/${e.message_id}`}>#{e.message_id}</a>],
                ...(e.channel === 'push' ? ([['Push', `${e.extra.provider ?? ''} ${e.extra.url ?? ''}`]] as [string, string][]) : []),
              ]}
            />
            {attachments.length > 0 && (
              <div class="attachments">
                {attachments.map((a, i) => (
                  <button type="button" class="attachment" onClick={() => download(e, i).catch(setError)}>
                    ⬇ {a.name} <span class="muted">({a.mime}, {a.size} bytes)</span>
                  </button>
                ))}
              </div>
            )}
            <ErrorBox error={error} />
            <Tabs tabs={TABS.filter((t) => (t === 'HTML' ? e.html !== null : t === 'Headers' || t === 'Raw' ? e.raw : true))} shown={shown} onPick={setTab} />
            {shown === 'HTML' && e.html !== null && <HtmlFrame html={e.html} title="captured HTML" />}
            {shown === 'Text' && <pre class="text-body">{e.body ?? '(no text part)'}</pre>}
            {shown === 'Headers' && e.raw && <HeaderTable rows={mimeHeaders(e.raw)} />}
            {shown === 'Raw' && e.raw && <pre class="text-body raw">{e.raw}</pre>}
          </div>
        );
      }}
    </Load>
  );
}

export function OutboxPage({ id, query }: { id: number | null; query: Record<string, string> }) {
  const key = JSON.stringify(query);
  const list = useLoad(
    () =>
      call('outbox/list', {
        limit: 50,
        ...(query.recipient ? { recipient: query.recipient } : {}),
        ...(query.channel ? { channel: query.channel } : {}),
        ...(query.cursor ? { cursor: Number(query.cursor) } : {}),
      }),
    [key],
    5000,
  );
  const [recipient, setRecipient] = useState(query.recipient ?? '');
  const [channel, setChannel] = useState(query.channel ?? '');
  const filters = { recipient: query.recipient, channel: query.channel };
  return (
    <Page title="Outbox">
      <p class="muted small">What Salvo captured instead of sending: email when SALVO_SMTP_URL is not set, SMS and push that have no provider set up.</p>
      <form
        class="filters"
        onSubmit={(ev) => {
          ev.preventDefault();
          navigate(href('outbox', { recipient, channel }));
        }}
      >
        <label>
          Recipient
          <input name="recipient" value={recipient} onInput={(ev) => setRecipient(ev.currentTarget.value)} />
        </label>
        <AnyOf label="Channel" name="channel" value={channel} options={CHANNELS} onChange={setChannel} />
        <button type="submit">Filter</button>
      </form>
      <div class="catcher">
        <Card class="inbox">
          <Load loaded={list}>
            {({ data, extra }) =>
              data.length === 0 ? (
                <p class="muted">Nothing captured.</p>
              ) : (
                <>
                  <ul class="inbox-list" id="outbox">
                    {data.map((e) => (
                      <li class={e.id === id ? 'selected' : ''}>
                        <a href={href(`outbox/${e.id}`, filters)}>
                          <span class="inbox-to">{e.recipient}</span>
                          <Time iso={e.created} />
                          <span class="inbox-subject">{e.subject ?? e.body?.slice(0, 80) ?? ''}</span>
                          <span class="muted small">
                            {e.channel}
                            {e.extra.attachments?.length ? ` · ${e.extra.attachments.length} attachment${e.extra.attachments.length > 1 ? 's' : ''}` : ''}
                          </span>
                        </a>
                      </li>
                    ))}
                  </ul>
                  {extra.next_cursor !== undefined && (
                    <div class="pager">
                      <a href={href('outbox', { ...filters, cursor: String(extra.next_cursor) })}>Older »</a>
                    </div>
                  )}
                </>
              )
            }
          </Load>
        </Card>
        <Card class="reader">{id === null ? <p class="muted">Pick a message on the left.</p> : <Captured key={id} id={id} />}</Card>
      </div>
    </Page>
  );
}
