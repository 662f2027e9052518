/**
 * What happens to an email after the SMTP 250, as Salvo learns it later: a bounce (a delivery status
 * notification to its Return-Path, or an email service's event), a complaint (an ARF feedback report, or
 * a service's event), or a delivery (a service's event). Pure: reading the reports' fields and deciding
 * what each does to the message and its subscription. I/O is in delivery/bounce-listener.ts (SMTP) and
 * http/routes/email-events.ts (email services' webhooks).
 */

export type EmailFeedback =
  /** `permanent`: the address will never take mail (5.x.x); otherwise it may later (4.x.x, a full mailbox). */
  | { kind: 'bounce'; permanent: boolean; status: string | null; diagnostic: string | null; source: string }
  | { kind: 'complaint'; feedbackType: string | null; source: string }
  | { kind: 'delivery'; detail: string | null; source: string };

/** What recording a feedback did, for the listener's log and the webhook's answer. */
export type FeedbackResult = 'recorded' | 'repeated' | 'no_message' | 'not_email';

/** RFC 3463 enhanced status code: class.subject.detail. */
const ENHANCED_STATUS = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/**
 * Fields of an RFC 822-style block of a report (delivery-status, feedback-report): `Name: value` lines,
 * folded lines joined, names lower-cased. Blocks are separated by blank lines.
 */
function reportBlocks(text: string): Record<string, string>[] {
  const blocks: Record<string, string>[] = [];
  for (const raw of text.replace(/\r\n/g, '\n').split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last: string | null = null;
    for (const line of raw.split('\n')) {
      if (/^[ \t]/.test(line) && last) fields[last] += ` ${line.trim()}`;
      else {
        const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
        if (!m) continue;
        last = m[1].toLowerCase();
        fields[last] = m[2].trim();
      }
    }
    if (Object.keys(fields).length) blocks.push(fields);
  }
  return blocks;
}

/**
 * A delivery status notification's verdict (RFC 3464): the first recipient block that failed or was
 * delayed. `Action: delivered|relayed|expanded` reports no bounce (null). The status code decides
 * permanence; without one, `failed` is permanent and `delayed` is not.
 */
export function bounceOfDeliveryStatus(text: string, source: string): EmailFeedback | null {
  const recipients = reportBlocks(text).filter((b) => b['final-recipient'] || b['original-recipient'] || b.action);
  for (const r of recipients) {
    const action = (r.action ?? '').toLowerCase();
    if (action === 'delivered' || action === 'relayed' || action === 'expanded') continue;
    const status = ENHANCED_STATUS.exec(r.status ?? '')?.[0] ?? null;
    const permanent = status ? status.startsWith('5') : action === 'failed';
    if (!status && action !== 'failed' && action !== 'delayed') continue;
    return { kind: 'bounce', permanent, status, diagnostic: clip(r['diagnostic-code'] ?? null), source };
  }
  return null;
}

/**
 * A bounce in none of the standard forms (an old MTA's plain-text "Undelivered Mail Returned to Sender"):
 * the first enhanced status code in its text, else a 5xx or 4xx SMTP reply. No maintained parser of these
 * forms exists for Node (docs/operations.md), so this reads only what is unambiguous; null when nothing is.
 */
export function bounceOfText(text: string, source: string): EmailFeedback | null {
  const enhanced = ENHANCED_STATUS.exec(text);
  const reply = /\b([45])\d\d[ -][^\n]{0,200}/.exec(text);
  if (!enhanced && !reply) return null;
  const permanent = enhanced ? enhanced[1] === '5' : reply![1] === '5';
  return { kind: 'bounce', permanent, status: enhanced?.[0] ?? null, diagnostic: clip(reply?.[0].trim() ?? null), source };
}

/** An ARF feedback report (RFC 5965): a complaint, whatever its Feedback-Type (abuse, fraud, virus, other). */
export function complaintOfFeedbackReport(text: string, source: string): EmailFeedback | null {
  const fields = reportBlocks(text)[0];
  if (!fields?.['feedback-type']) return null;
  return { kind: 'complaint', feedbackType: fields['feedback-type'].toLowerCase(), source };
}

/** The text kept of a diagnostic: one line, at most 300 characters (it is shown in the history and sent in events). */
export function clip(s: string | null): string | null {
  if (s === null) return null;
  const one = s.replace(/\s+/g, ' ').trim();
  return one.length > 300 ? `${one.slice(0, 299)}…` : one;
}

/** The history entry's detail of a feedback: what it was, where it came from, its status and diagnostic. */
export function feedbackDetail(f: EmailFeedback): string {
  if (f.kind === 'complaint') return `complaint (${f.source})${f.feedbackType ? `: ${f.feedbackType}` : ''}`;
  if (f.kind === 'delivery') return `delivered (${f.source})${f.detail ? `: ${f.detail}` : ''}`;
  const what = f.permanent ? 'bounced' : 'soft bounce';
  return `${what} (${f.source})${f.status ? ` ${f.status}` : ''}${f.diagnostic ? `: ${f.diagnostic}` : ''}`;
}

/** The soft-bounce rule: after `limit` transient bounces of a subscription within `windowMs`, it is suspended. */
export interface SoftBounceRule {
  limit: number;
  windowMs: number;
}

/** The message id in one of Salvo's Message-ID headers (`<salvo.<id>.<launch>@domain>`), as email services report it back. */
export function messageIdOfHeader(header: string | null | undefined): number | null {
  const m = /^<?salvo\.(\d{1,15})\.\d{1,15}@[^>\s]+>?$/.exec((header ?? '').trim());
  if (!m) return null;
  const id = Number(m[1]);
  return Number.isSafeInteger(id) && id > 0 ? id : null;
}
