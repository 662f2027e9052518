/** The console's only way to Salvo: the public API, POST /api/v1.1/<method> with the token as a Bearer. */
import type { operations } from './openapi.d.ts';

/**
 * What a method answers in `data`, from the types generated from /openapi.json (scripts/ui-api-types.ts):
 * `Data<'tokens_me'>` is tokens/me's. New code takes its types from here rather than copying them.
 */
export type Data<Op extends keyof operations> = operations[Op] extends { responses: { 200: { content: { 'application/json': { data: infer D } } } } } ? D : never;

const TOKEN_KEY = 'salvo.token';

export const token = {
  get: (): string | null => sessionStorage.getItem(TOKEN_KEY),
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

/** An answer whose `error` is not 0: the code and Salvo's text, shown as they are. */
class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly text: string,
  ) {
    super(`${code}: ${text}`);
  }
}

export interface Answer<T> {
  data: T;
  /** Keys beside data: next_cursor, total_count, next_from_id, profile_id. */
  extra: Record<string, unknown>;
  headers: Headers;
}

/** Called when the token is refused (401/403): the app goes back to sign-in. */
let onSignedOut: () => void = () => {};
export const whenSignedOut = (fn: () => void) => {
  onSignedOut = fn;
};

export async function call<T = unknown>(method: string, body: Record<string, unknown> = {}, headers: Record<string, string> = {}, as = token.get()): Promise<Answer<T>> {
  const res = await fetch(`/api/v1.1/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(as ? { authorization: `Bearer ${as}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
  let parsed: { error: number; error_text: string; data: T; [k: string]: unknown };
  try {
    parsed = await res.json();
  } catch {
    throw new ApiError(res.status, `the server answered HTTP ${res.status} without JSON`);
  }
  if (parsed.error !== 0) {
    // A refused token signs out; a method outside the token's role (403 naming the role) does not.
    const refusedToken = parsed.error === 401 || (parsed.error === 403 && parsed.error_text.startsWith('API token'));
    if (refusedToken && as === token.get()) onSignedOut();
    throw new ApiError(parsed.error, parsed.error_text);
  }
  const { error: _e, error_text: _t, data, ...extra } = parsed;
  return { data, extra, headers: res.headers };
}

/** Shorthand for the data of an answer. */
export const get = async <T = unknown>(method: string, body: Record<string, unknown> = {}): Promise<T> => (await call<T>(method, body)).data;

export const CHANNELS = ['email', 'sms', 'push'] as const;
export const STATUSES = ['queued', 'waiting', 'sending', 'sent', 'captured', 'delivered', 'undelivered', 'failed', 'skipped'] as const;
type Status = (typeof STATUSES)[number];
export type Counts = Record<Status, number>;

/** Messages the provider took: sent, and those an SMS delivery receipt has since made delivered or undelivered. */
export const handedOver = (c: Partial<Counts>) => (c.sent ?? 0) + (c.delivered ?? 0) + (c.undelivered ?? 0);

/** Messages that ended without a failure: handed over, captured in the outbox (no provider configured), or skipped. */
export const settled = (c: Partial<Counts>) => handedOver(c) + (c.captured ?? 0) + (c.skipped ?? 0);

export interface Campaign {
  id: number;
  name: string;
  is_active: boolean;
  trigger_type: string;
  send_channel: string;
  resource_id: number;
  db_id: number;
  /** A/B content: one variant per item, each recipient gets one by weight (default 1). */
  content: { message_id: number; weight?: number; subject?: string; from_email?: string; from_name?: string }[];
  call_url?: string;
  skip_minutes: number;
  content_filter: unknown;
  created: string;
  updated: string;
}

export interface Launch {
  id: number;
  campaign_id: number;
  kind: string;
  state: string;
  total: number;
  counts: Counts;
  complete: boolean;
  created: string;
  updated: string;
}

export interface Message {
  id: number;
  launch_id: number;
  campaign_id: number;
  profile_id: string;
  channel: string;
  address: string | null;
  status: Status;
  skip_reason: string | null;
  /** The A/B variant (index in the campaign's content) and its template; null on messages older than A/B content. */
  variant: number | null;
  template_id: number | null;
  attempts: number;
  last_error: string | null;
  next_attempt: string | null;
  created: string;
  updated: string;
  sent: string | null;
}

/** Opens, clicks and unsubscribes: unique (messages), total, a machine's (scanners, Apple Mail Privacy Protection). */
export interface Engagement {
  opened: number;
  opens: number;
  machine_opens: number;
  clicked: number;
  clicks: number;
  machine_clicks: number;
  unsubscribed: number;
}

export interface OutboxEntry {
  id: number;
  message_id: number;
  channel: string;
  recipient: string;
  sender: string | null;
  subject: string | null;
  body: string | null;
  html: string | null;
  extra: { attachments?: { name: string; mime: string; size: number }[]; provider?: string; url?: string | null; icon?: string | null };
  created: string;
  raw?: string | null;
}

export interface Stats {
  time: string;
  last_hour: Record<string, Counts>;
  last_day: Record<string, Counts>;
  queue: { queued: number; waiting: number; sending: number; oldest_queued_seconds: number | null };
  /** Resources whose next send slot is later than now (email.limits, sms.limits, a relay's back-off). */
  send_limits: { resource_id: number; channel: string; next_slot_seconds: number }[];
  engagement: { last_day: { opened: number; clicked: number; unsubscribed: number } };
  store_bytes: number;
}

/** campaigns/stats: a campaign's messages counted by A/B variant and status. */
export interface CampaignStats {
  campaign_id: number;
  launch_id: number | null;
  total: number;
  variants: { variant: number; message_id: number | null; weight: number | null; total: number; statuses: Partial<Counts> }[];
  engagement: Engagement;
}

/** The answer of campaigns/triggers/start with dry_run: true (docs/api.md, Dry runs). */
export interface DryRun {
  audience: number;
  queued: number;
  skipped: number;
  skip_reasons: Record<string, number>;
  preview: {
    profile_id: string | null;
    channel: string;
    address: string | null;
    variant: number;
    template_id: number;
    subject: string | null;
    text: string | null;
    html: string | null;
    from: string | null;
    headers: Record<string, string> | null;
  }[];
  errors: { index?: number; profile_id?: string | null; error: number; error_text: string }[];
  filtered: boolean;
  complete: boolean;
}
