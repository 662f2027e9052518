/**
 * A message as it went out, from messages/get's `sent_copy` and `body`: an email as a mail client shows
 * it (From, To, subject, the HTML and text parts, the headers Salvo set, the attachments' names); an SMS
 * or a push with what it has (sender, parts; provider, link).
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import type { DataOf } from '../api.ts';
import { Fields, HeaderTable, HtmlFrame, looksLikeHtml, Tabs, Time } from '../components.tsx';

type Detail = DataOf<'messages/get'>;
type Copy = NonNullable<Detail['sent_copy']>;

const TABS = ['HTML', 'Text', 'Headers'] as const;

/** The body as kept: HTML in a sandboxed frame, anything else as text. */
export function Body({ m }: { m: Detail }) {
  if (m.body === null) return <p class="muted">Not rendered yet (or SALVO_KEEP_BODY is 0).</p>;
  return m.channel === 'email' && looksLikeHtml(m.body) ? <HtmlFrame html={m.body} title="message body" /> : <pre class="text-body">{m.body}</pre>;
}

/** The header block of the email: From, To, Reply-To and Subject first, then those Salvo added, then the envelope sender. */
function headerRows(m: Detail, c: Copy): [string, string][] {
  return [
    ['From', c.from ?? ''],
    ['To', c.to],
    ...(c.reply_to ? ([['Reply-To', c.reply_to]] as [string, string][]) : []),
    ['Subject', m.subject ?? ''],
    ...Object.entries(c.headers ?? {}),
    ...(c.return_path ? ([['Return-Path', `<${c.return_path}>`]] as [string, string][]) : []),
    ...(c.dkim ? ([['DKIM-Signature', `d=${c.dkim.domain}; s=${c.dkim.selector}`]] as [string, string][]) : []),
  ];
}

function Email({ m, c }: { m: Detail; c: Copy }) {
  const html = m.body !== null && looksLikeHtml(m.body);
  const [tab, setTab] = useState<(typeof TABS)[number]>(html ? 'HTML' : 'Text');
  const attachments = c.attachments ?? [];
  return (
    <>
      <Fields
        rows={[
          ['From', c.from],
          ['To', c.to],
          ...(c.reply_to ? ([['Reply-To', c.reply_to]] as [string, ComponentChildren][]) : []),
          [m.status === 'captured' ? 'Captured' : 'Sent', <Time iso={m.sent} />],
          [
            'Attachments',
            attachments.length === 0
              ? null
              : `${attachments.map((a) => `${a.name} (${a.mime}, ${a.size} bytes)`).join(', ')}${c.attachments_more ? ` and ${c.attachments_more} more` : ''}`,
          ],
        ]}
      />
      <Tabs tabs={TABS.filter((t) => t !== 'HTML' || html)} shown={tab} onPick={setTab} />
      {tab === 'HTML' && <Body m={m} />}
      {tab === 'Text' && <pre class="text-body">{c.text ?? '(no text part)'}</pre>}
      {tab === 'Headers' && <HeaderTable rows={headerRows(m, c)} />}
    </>
  );
}

export function AsSent({ m, c }: { m: Detail; c: Copy }) {
  return (
    <div class="mail">
      <h2 class="mail-subject">{m.subject ?? (c.channel === 'sms' ? 'SMS' : '(no subject)')}</h2>
      {c.channel === 'email' ? (
        <Email m={m} c={c} />
      ) : (
        <>
          <Fields
            rows={
              c.channel === 'sms'
                ? [
                    ['From', c.from],
                    ['To', c.to],
                    ['Parts at the SMSC', c.parts || null],
                  ]
                : [
                    ['To', c.to],
                    ['Provider', c.provider],
                    ['Link', c.url],
                    ['Icon', c.icon],
                  ]
            }
          />
          <Body m={m} />
        </>
      )}
    </div>
  );
}
