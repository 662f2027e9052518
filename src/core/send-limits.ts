/**
 * A resource's sending limits (`email.limits`, `sms.limits`) as rules: what the settings may say, the
 * pacing interval they come to, how a relay's "slow down" grows the back-off, and the texts a held
 * message's history shows. The store keeps the shared state (store/queries/send-limits.ts); the
 * dispatcher's limiter applies it (delivery/send-limits.ts).
 *
 * Pacing is GCRA without a burst: each send takes the next free slot, one interval after the last one
 * taken by any process. per_hour therefore paces evenly (3600 s / N between sends), so no hour ever holds
 * more than N sends, rather than letting N go at once and then waiting out the hour.
 */
import { badRequest } from './errors.ts';

export interface SendLimits {
  /** Sends per second of the resource on this channel, across all processes. */
  per_second?: number;
  /** Sends per hour, paced evenly. */
  per_hour?: number;
  /** Sends in flight at once to one recipient domain (email only), across all processes. */
  per_domain_connections?: number;
}

const LIMIT_KEYS = ['per_second', 'per_hour', 'per_domain_connections'] as const;
const MAX_LIMIT = 1_000_000;

/** `email.limits` or `sms.limits` checked: positive whole numbers, unknown keys refused, {} or null meaning none. */
export function checkSendLimits(v: unknown, channel: 'email' | 'sms'): SendLimits | undefined {
  const at = `${channel}.limits`;
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${at} must be an object: {per_second, per_hour, per_domain_connections}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!(LIMIT_KEYS as readonly string[]).includes(k)) throw badRequest(`${at}.${k} is not a limit (expected ${LIMIT_KEYS.join(', ')})`);
  const out: SendLimits = {};
  for (const k of LIMIT_KEYS) {
    const n = o[k];
    if (n === undefined || n === null) continue;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_LIMIT) throw badRequest(`${at}.${k} must be a whole number from 1 to ${MAX_LIMIT}`);
    out[k] = n;
  }
  if (channel === 'sms' && out.per_domain_connections !== undefined) {
    throw badRequest('sms.limits.per_domain_connections applies to email only (an SMS has no recipient domain)');
  }
  return Object.keys(out).length ? out : undefined;
}

/** Milliseconds between two sends under the limits; 0 when neither rate is set. The stricter rate wins. */
export function pacingInterval(l: SendLimits): number {
  return Math.max(l.per_second ? 1000 / l.per_second : 0, l.per_hour ? 3_600_000 / l.per_hour : 0);
}

/** The limits as a history text shows them: "20/s", "100/h", "20/s and 5000/h". */
export function describeRate(l: SendLimits): string {
  return [l.per_second ? `${l.per_second}/s` : '', l.per_hour ? `${l.per_hour}/h` : ''].filter(Boolean).join(' and ');
}

/** The pacing key of a resource's channel, and the connection key of one recipient domain on it. */
export const pacingKey = (resourceId: number, channel: string) => `${resourceId}:${channel}`;
export const domainKey = (resourceId: number, domain: string) => `${resourceId}:email:${domain}`;

/** A pacing key read back: which resource's channel it paces. */
function parsePacingKey(key: string): { resource_id: number; channel: string } {
  const [id, channel] = key.split(':');
  return { resource_id: Number(id), channel };
}

/**
 * The resources whose next send slot is later than now, and how long until it (rounded up to the
 * second): the wait a message of theirs meets, from a backlog under its limit or a relay's back-off.
 */
export function sendLimitDelays(paced: Map<string, number>, now: number): { resource_id: number; channel: string; next_slot_seconds: number }[] {
  return [...paced]
    .filter(([, at]) => at > now)
    .map(([key, at]) => ({ ...parsePacingKey(key), next_slot_seconds: Math.ceil((at - now) / 1000) }))
    .sort((a, b) => a.resource_id - b.resource_id || a.channel.localeCompare(b.channel));
}

/** The domain of an email address, lower-cased; null for an address without one. */
export function recipientDomain(address: string | null): string | null {
  const at = address?.lastIndexOf('@') ?? -1;
  return at > 0 ? address!.slice(at + 1).toLowerCase() : null;
}

/** SMTP replies that mean "too many, slow down" rather than anything about the message. */
const THROTTLE_REPLIES = [421, 454];

/** Whether a send failure is a relay asking the whole resource to slow down. */
export const isThrottleReply = (e: { responseCode?: number }): boolean => THROTTLE_REPLIES.includes(e.responseCode ?? 0);

export const FIRST_BACKOFF_MS = 5_000;
export const MAX_BACKOFF_MS = 300_000;

/** A resource's back-off as stored: when the last one began and how long it was. */
export interface Backoff {
  throttled_at: number | null;
  throttle_ms: number | null;
}

/**
 * The back-off after a relay's 421 or 454: 5 s the first time, doubling (to 5 min) when the relay says
 * it again right after the previous back-off ended. Replies that arrive during a back-off (sends that
 * were already in flight, on other connections or processes) keep it as it is, so that ten at once do
 * not double it ten times. Answers null for "already backing off".
 */
export function nextBackoff(prev: Backoff, now: number): number | null {
  if (prev.throttled_at === null || prev.throttle_ms === null) return FIRST_BACKOFF_MS;
  const ends = prev.throttled_at + prev.throttle_ms;
  if (now < ends) return null;
  // Said again within a back-off's length of the last one ending: the relay is still overloaded.
  if (now - ends <= prev.throttle_ms) return Math.min(MAX_BACKOFF_MS, prev.throttle_ms * 2);
  return FIRST_BACKOFF_MS;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * A held message's history with the hold's entry: a hold following a hold replaces it, so the history
 * keeps one line however often a long backlog holds the message.
 */
export function withHold<E extends { status: string; detail?: string }>(history: E[], entry: E): E[] {
  const last = history.at(-1);
  const earlier = last?.status === 'waiting' && last.detail?.startsWith('held') ? history.slice(0, -1) : history;
  return [...earlier, entry];
}

/** Why a message waits, in its history (and the log). */
export const holdTexts = {
  rate: (resourceId: number, l: SendLimits, until: number) => `held by resource ${resourceId}'s sending limit (${describeRate(l)}) until ${iso(until)}`,
  backoff: (resourceId: number, until: number) => `held: resource ${resourceId} backs off after its relay asked to slow down (421/454) until ${iso(until)}`,
  connections: (resourceId: number, domain: string, max: number, until: number) =>
    `held by resource ${resourceId}'s per_domain_connections limit (${max} at once to ${domain}) until ${iso(until)}`,
};
