/**
 * Webhook rules, pure: the event types, what an event's body is, the Standard Webhooks signature,
 * secrets, the retry schedule, and which addresses count as private. I/O is in delivery/webhooks.ts.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { iso } from '../support/time.ts';
import type { Message } from './types.ts';

export const WEBHOOK_EVENTS = [
  'message.sent',
  'message.captured',
  'message.failed',
  'message.skipped',
  'message.delivered',
  'message.undelivered',
  'message.bounced',
  'message.soft_bounced',
  'message.complained',
  'message.opened',
  'message.clicked',
  'message.unsubscribed',
  'launch.done',
  'task.done',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** The message.* event a message's final status reports; a hard bounce is message.bounced rather than message.failed. */
export function messageEventType(status: string, bounced = false): WebhookEventType | null {
  if (status === 'sent') return 'message.sent';
  if (status === 'captured') return 'message.captured';
  if (status === 'skipped') return 'message.skipped';
  if (status === 'failed') return bounced ? 'message.bounced' : 'message.failed';
  if (status === 'delivered') return 'message.delivered';
  if (status === 'undelivered') return 'message.undelivered';
  return null;
}

/** A message as a message.* event carries it (its status may be `delivered`, which receipts report). */
export type MessageFacts = Omit<Pick<Message, 'id' | 'launch_id' | 'campaign_id' | 'profile_id' | 'channel' | 'address' | 'last_error' | 'skip_reason'>, 'status'> & { status: string };

/** An enabled endpoint as event writers match it: the event types it takes (or `*`), its campaigns (null: all). */
export interface WebhookTarget {
  id: number;
  events: string[];
  campaign_ids: number[] | null;
}

/** Whether an endpoint takes events of `type` about `campaignId`. */
export const webhookTakes = (h: WebhookTarget, type: WebhookEventType, campaignId: number): boolean =>
  (h.events.includes(type) || h.events.includes('*')) && (h.campaign_ids === null || h.campaign_ids.includes(campaignId));

/** The JSON text posted for an event: {type, timestamp (RFC 3339), data}. */
export const eventBody = (type: WebhookEventType, now: number, data: Record<string, unknown>): string => JSON.stringify({ type, timestamp: iso(now), data });

/** data of a message.* event; custom_data is the item's own (batches) or else the launch's, as the trigger call sent it. */
export function messageEventData(m: MessageFacts, customData: unknown): Record<string, unknown> {
  const error = m.status === 'failed' || m.status === 'undelivered' ? m.last_error : m.status === 'skipped' ? m.skip_reason : null;
  return {
    message_id: m.id,
    launch_id: m.launch_id,
    campaign_id: m.campaign_id,
    profile_id: m.profile_id,
    channel: m.channel,
    address: m.address,
    status: m.status,
    ...(error ? { error } : {}),
    custom_data: customData ?? null,
  };
}

/** Standard Webhooks secrets: `whsec_` and the base64 of a 24 to 64 byte key. */
const SECRET = /^whsec_([A-Za-z0-9+/]{32,88}={0,2})$/;

export const newWebhookSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** Why a given secret is not one, or null when it is. */
export function secretProblem(secret: string): string | null {
  const m = SECRET.exec(secret);
  const key = m ? Buffer.from(m[1], 'base64') : null;
  if (!key || key.length < 24 || key.length > 64) return "field 'secret' must be 'whsec_' followed by the base64 of 24 to 64 random bytes";
  return null;
}

/** The webhook-signature header: `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` keyed by the secret's decoded bytes. */
export function signature(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * Waits after each failed attempt: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, then 2 h eleven times
 * (about 23.7 h in all, 18 attempts), each ±20 % so a burst of failures does not retry in step.
 */
const RETRY_SCHEDULE_MS = [5_000, 30_000, 120_000, 600_000, 1_800_000, 3_600_000, ...Array<number>(11).fill(7_200_000)];

/** When to try again after failed attempt `attempts` (1-based), or null when it was the last. */
export function webhookRetryDelay(attempts: number, random: () => number = Math.random): number | null {
  const base = RETRY_SCHEDULE_MS[attempts - 1];
  if (base === undefined) return null;
  return Math.round(base * (0.8 + 0.4 * random()));
}


/** Why a URL cannot be a webhook endpoint, or null. */
export function urlProblem(raw: string): string | null {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return "field 'url' must be an absolute http:// or https:// URL";
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return "field 'url' must be an http:// or https:// URL";
  if (u.username || u.password) return "field 'url' must not carry a user name or password";
  return null;
}
