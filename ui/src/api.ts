/** The console's only way to Salvo: the public API, POST /api/v1.1/<method> with the token as a Bearer. */
import type { paths } from './openapi.d.ts';
import type { MESSAGE_STATUSES } from './openapi-values.ts';

/** The API's methods, by path under /api/v1.1: `messages/get`, `campaigns/triggers/start`, ... */
export type Method = { [P in keyof paths]: P extends `/api/v1.1/${infer M}` ? (paths[P] extends { post: object } ? M : never) : never }[keyof paths];

/**
 * What `method` answers in `data`, from the types generated from /openapi.json (scripts/ui-api-types.ts,
 * `npm run ui-types`): `DataOf<'messages/get'>`. call() and get() answer it, so no page writes a
 * response type by hand.
 */
export type DataOf<M extends Method> = paths[`/api/v1.1/${M}`]['post'] extends { responses: { 200: { content: { 'application/json': { data: infer D } } } } } ? D : never;

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

export async function call<M extends Method>(method: M, body: Record<string, unknown> = {}, headers: Record<string, string> = {}, as = token.get()): Promise<Answer<DataOf<M>>> {
  const res = await fetch(`/api/v1.1/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(as ? { authorization: `Bearer ${as}` } : {}), ...headers },
    body: JSON.stringify(body),
  });
  let parsed: { error: number; error_text: string; data: DataOf<M>; [k: string]: unknown };
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
export const get = async <M extends Method>(method: M, body: Record<string, unknown> = {}): Promise<DataOf<M>> => (await call(method, body)).data;

/** The channels and message statuses, from messages/list's filters in /openapi.json. */
export { CHANNELS, MESSAGE_STATUSES as STATUSES } from './openapi-values.ts';
type Status = (typeof MESSAGE_STATUSES)[number];
export type Counts = Record<Status, number>;

/** Messages the provider took: sent, and those an SMS delivery receipt has since made delivered or undelivered. */
export const handedOver = (c: Partial<Counts>) => (c.sent ?? 0) + (c.delivered ?? 0) + (c.undelivered ?? 0);

/** Messages that ended without a failure: handed over, captured in the outbox (no provider configured), or skipped. */
export const settled = (c: Partial<Counts>) => handedOver(c) + (c.captured ?? 0) + (c.skipped ?? 0);

export type Campaign = DataOf<'campaigns/triggers/get'>;
export type Launch = DataOf<'launches/get'>;
export type Message = DataOf<'messages/list'>[number];

export type OutboxEntry = DataOf<'outbox/get'>;
/** The answer of campaigns/triggers/start with dry_run: true (docs/api.md, Dry runs); templates/preview answers it too. */
export type DryRun = Extract<DataOf<'campaigns/triggers/start'>, { preview: unknown }>;
export type CampaignStats = DataOf<'campaigns/stats'>;
