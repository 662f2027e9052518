/**
 * Email services' event webhooks, pure: checking each service's own signature, and reading its bounce,
 * complaint and delivery events as feedback on Salvo's messages (core/feedback.ts).
 *
 * - Amazon SES posts through SNS: a JSON envelope signed with RSA (SignatureVersion 1: SHA1, 2: SHA256)
 *   over its fields in a fixed order, with a certificate from sns.<region>.amazonaws.com. Its Message is
 *   an SES notification (notificationType) or event (eventType): Bounce, Complaint, Delivery.
 * - SendGrid's Signed Event Webhook: ECDSA P-256 with SHA-256 over the timestamp header and the raw body.
 *
 * Both are checked with node:crypto rather than a package: the schemes are a few lines each, the packages
 * for them fetch certificates their own way (sns-validator) or wrap the same call (@sendgrid/eventwebhook).
 * A message is named by the Message-ID Salvo gave it (`<salvo.<id>.<launch>@…>`), which both report back.
 */
import { createPublicKey, createVerify, X509Certificate } from 'node:crypto';
import { type EmailFeedback, clip, messageIdOfHeader } from './feedback.ts';

export interface SnsMessage {
  Type: string;
  MessageId: string;
  TopicArn: string;
  Message: string;
  Timestamp: string;
  SignatureVersion: string;
  Signature: string;
  SigningCertURL: string;
  Subject?: string;
  SubscribeURL?: string;
  Token?: string;
}

/** Why a body is not an SNS message Salvo can check, or null when it is one. */
export function snsProblem(m: unknown): string | null {
  if (typeof m !== 'object' || m === null) return 'the body is not a JSON object';
  const o = m as Record<string, unknown>;
  for (const k of ['Type', 'MessageId', 'TopicArn', 'Message', 'Timestamp', 'SignatureVersion', 'Signature', 'SigningCertURL']) {
    if (typeof o[k] !== 'string') return `field '${k}' must be a string`;
  }
  if (o.SignatureVersion !== '1' && o.SignatureVersion !== '2') return "field 'SignatureVersion' must be 1 or 2";
  return null;
}

/** The text SNS signs: the message's fields in its documented order, each as its name and value on lines of their own. */
function snsStringToSign(m: SnsMessage): string {
  const fields =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', ...(m.Subject !== undefined ? ['Subject'] : []), 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return fields.map((k) => `${k}\n${(m as unknown as Record<string, string>)[k] ?? ''}\n`).join('');
}

/** Where SNS signing certificates may come from: https://sns.<region>.amazonaws.com (or .com.cn). */
export function isSnsCertUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === 'https:' && /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/.test(u.hostname) && u.pathname.endsWith('.pem');
  } catch {
    return false;
  }
}

export function verifySns(m: SnsMessage, certPem: string): boolean {
  try {
    const key = new X509Certificate(certPem).publicKey;
    return createVerify(m.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1').update(snsStringToSign(m), 'utf8').verify(key, Buffer.from(m.Signature, 'base64'));
  } catch {
    return false;
  }
}

/** SendGrid's verification key is the base64 of a DER SubjectPublicKeyInfo (ECDSA P-256). */
export function verifySendgrid(keyBase64: string, payload: string, signature: string, timestamp: string): boolean {
  try {
    const key = createPublicKey({ key: Buffer.from(keyBase64, 'base64'), format: 'der', type: 'spki' });
    return createVerify('SHA256').update(timestamp + payload, 'utf8').verify(key, Buffer.from(signature, 'base64'));
  } catch {
    return false;
  }
}

export interface ServiceFeedback {
  messageId: number;
  feedback: EmailFeedback;
}

type Json = Record<string, unknown>;
const obj = (v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : {});
const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

/** The feedback in an SES notification or event (the SNS Message, parsed); null for other types or mail Salvo did not send. */
export function sesFeedback(n: unknown): ServiceFeedback | null {
  const o = obj(n);
  const type = str(o.notificationType) ?? str(o.eventType);
  const mail = obj(o.mail);
  const messageId = messageIdOfHeader(str(obj(mail.commonHeaders).messageId));
  if (messageId === null) return null;
  if (type === 'Bounce') {
    const b = obj(o.bounce);
    const r = obj(Array.isArray(b.bouncedRecipients) ? b.bouncedRecipients[0] : null);
    const permanent = b.bounceType === 'Permanent';
    return { messageId, feedback: { kind: 'bounce', permanent, status: str(r.status), diagnostic: clip(str(r.diagnosticCode) ?? `${str(b.bounceType)}/${str(b.bounceSubType)}`), source: 'ses' } };
  }
  if (type === 'Complaint') {
    return { messageId, feedback: { kind: 'complaint', feedbackType: str(obj(o.complaint).complaintFeedbackType), source: 'ses' } };
  }
  if (type === 'Delivery') {
    return { messageId, feedback: { kind: 'delivery', detail: clip(str(obj(o.delivery).smtpResponse)), source: 'ses' } };
  }
  return null;
}

/**
 * The feedback of one SendGrid event; null for its other events (processed, open, click...) and mail Salvo
 * did not send. `bounce` of type `blocked` and `deferred` are transient; a `bounce` otherwise, and
 * `dropped` for a bounced or invalid address, are permanent.
 */
export function sendgridFeedback(e: unknown): ServiceFeedback | null {
  const o = obj(e);
  const messageId = messageIdOfHeader(str(o['smtp-id'])) ?? positiveInt(o.salvo_message_id);
  if (messageId === null) return null;
  const reason = clip(str(o.reason) ?? str(o.response));
  const status = str(o.status);
  switch (o.event) {
    case 'bounce':
      return { messageId, feedback: { kind: 'bounce', permanent: o.type !== 'blocked', status, diagnostic: reason, source: 'sendgrid' } };
    case 'deferred':
      return { messageId, feedback: { kind: 'bounce', permanent: false, status, diagnostic: reason, source: 'sendgrid' } };
    case 'dropped':
      return /bounced address|invalid/i.test(reason ?? '') ? { messageId, feedback: { kind: 'bounce', permanent: true, status, diagnostic: reason, source: 'sendgrid' } } : null;
    case 'spamreport':
      return { messageId, feedback: { kind: 'complaint', feedbackType: 'abuse', source: 'sendgrid' } };
    case 'delivered':
      return { messageId, feedback: { kind: 'delivery', detail: reason, source: 'sendgrid' } };
    default:
      return null;
  }
}

function positiveInt(v: unknown): number | null {
  const n = typeof v === 'string' ? Number(v) : v;
  return typeof n === 'number' && Number.isSafeInteger(n) && n > 0 ? n : null;
}
