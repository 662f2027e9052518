/**
 * What was sent, as messages/get shows it (issue 22): the addresses, the headers Salvo set, the text
 * part and the attachments' names of an email; the sender of an SMS; the provider and link of a push.
 * The subject and the HTML (or SMS text, push body) are the message's `subject` and `body` already.
 *
 * Kept beside the body, under the same rules: only when SALVO_KEEP_BODY keeps bodies, the text part cut
 * at the same length, emptied with the body by SALVO_RETAIN_BODIES and by profiles/delete. Each other
 * part is bounded here, so that a row's copy stays within a few kilobytes beyond its text.
 */

/** A header value, an address or a file name kept at most this long (a List-Unsubscribe with two URLs is ~300). */
const MAX_VALUE = 1000;
/** Attachments listed at most; `attachments_more` counts those left out. */
const MAX_ATTACHMENTS = 50;
/** Headers kept at most (Salvo sets five or six). */
const MAX_HEADERS = 20;

export interface SentAttachment {
  name: string;
  mime: string;
  size: number;
}

export interface SentEmailCopy {
  channel: 'email';
  from: string;
  to: string;
  reply_to: string | null;
  /** The envelope sender (MAIL FROM, the receiver's Return-Path), where it is not From. */
  return_path: string | null;
  /** The headers Salvo set beyond From, To, Reply-To and Subject: Message-ID, List-Unsubscribe, List-Unsubscribe-Post, X-Salvo-*. */
  headers: Record<string, string>;
  /** The text part as sent, cut at SALVO_KEEP_BODY characters; null for a mail without one. */
  text: string | null;
  /** The DKIM signature's domain and selector, when the resource signs. */
  dkim: { domain: string; selector: string } | null;
  attachments: SentAttachment[];
  /** Attachments beyond those listed. */
  attachments_more?: number;
}

interface SentSmsCopy {
  channel: 'sms';
  from: string | null;
  to: string;
  /** How many parts the SMSC took (0 when the SMS went to the outbox). */
  parts: number;
}

interface SentPushCopy {
  channel: 'push';
  to: string;
  provider: string;
  url: string | null;
  icon: string | null;
}

export type SentCopy = SentEmailCopy | SentSmsCopy | SentPushCopy;

const cut = (s: string, n = MAX_VALUE) => (s.length > n ? s.slice(0, n) : s);

/** An address as a header shows it: `Name <email>`, or the email alone. */
const mailbox = (a: { email: string; name?: string }) => cut(a.name ? `${a.name} <${a.email}>` : a.email);

/** The copy kept of a sent email: every part bounded, the text part at `textLimit` characters. */
export function emailCopy(
  m: { from: { email: string; name?: string }; to: string; replyTo?: { email: string; name?: string }; returnPath?: string; text?: string },
  headers: Record<string, string>,
  attachments: SentAttachment[],
  dkim: { domain: string; selector: string } | null,
  textLimit: number,
): SentEmailCopy {
  const listed = attachments.slice(0, MAX_ATTACHMENTS);
  return {
    channel: 'email',
    from: mailbox(m.from),
    to: cut(m.to),
    reply_to: m.replyTo ? mailbox(m.replyTo) : null,
    return_path: m.returnPath ? cut(m.returnPath) : null,
    headers: Object.fromEntries(
      Object.entries(headers)
        .slice(0, MAX_HEADERS)
        .map(([k, v]) => [cut(k, 100), cut(v)]),
    ),
    text: m.text === undefined ? null : m.text.slice(0, textLimit),
    dkim: dkim ? { domain: cut(dkim.domain), selector: cut(dkim.selector) } : null,
    attachments: listed.map((a) => ({ name: cut(a.name), mime: cut(a.mime, 255), size: a.size })),
    ...(attachments.length > listed.length ? { attachments_more: attachments.length - listed.length } : {}),
  };
}

export const smsCopy = (m: { to: string; sender?: string }, parts: number): SentSmsCopy => ({ channel: 'sms', from: m.sender ? cut(m.sender) : null, to: cut(m.to), parts });

export const pushCopy = (m: { to: string; provider: string; url?: string; icon?: string }): SentPushCopy => ({
  channel: 'push',
  to: cut(m.to),
  provider: cut(m.provider, 100),
  url: m.url === undefined ? null : cut(m.url, 4000),
  icon: m.icon === undefined ? null : cut(m.icon, 4000),
});
