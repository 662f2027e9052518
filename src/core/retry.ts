/**
 * Whether a failed send is worth another attempt, and when. SMTP 5xx replies are final; 4xx replies,
 * connection trouble and anything unrecognised are retried, so accepted work is not lost to a
 * passing fault or a misconfigured relay.
 */
export type Verdict = 'transient' | 'permanent';

export interface SendFailure {
  code?: string;
  responseCode?: number;
  /** Set by channels for failures that no retry can mend (a bad address, a rejected message). */
  permanent?: boolean;
  message?: string;
  /** The provider asked for this much quiet before the next attempt (HTTP Retry-After, SMPP throttling). */
  retryAfterMs?: number;
  /** The provider says the address is gone for good (push 404/410, FCM UNREGISTERED): mark the subscription invalid. */
  subscriptionInvalid?: boolean;
}

export function classifyFailure(e: SendFailure): Verdict {
  if (typeof e.responseCode === 'number') return e.responseCode >= 500 && e.responseCode < 600 ? 'permanent' : 'transient';
  if (e.permanent === true) return 'permanent';
  return 'transient';
}

/**
 * Exponential backoff with jitter: the n-th retry waits between half and all of base * 2^(n-1),
 * capped at max. The jitter keeps retries of a burst from arriving together.
 */
export function retryDelay(attempt: number, baseMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

/** Longest wait a provider's Retry-After is taken at; beyond it the retry policy's own backoff rules. */
const RETRY_AFTER_CAP_MS = 24 * 3_600_000;

/**
 * An HTTP Retry-After (RFC 9110: delay in seconds, or an HTTP date) as milliseconds from `now`;
 * undefined when absent or unreadable. A date in the past means no wait.
 */
export function parseRetryAfter(value: string | string[] | undefined, now: number): number | undefined {
  const v = (Array.isArray(value) ? value[0] : value)?.trim();
  if (!v) return undefined;
  if (/^\d+$/.test(v)) return Math.min(Number(v) * 1000, RETRY_AFTER_CAP_MS);
  const at = Date.parse(v);
  if (Number.isNaN(at)) return undefined;
  return Math.min(Math.max(0, at - now), RETRY_AFTER_CAP_MS);
}
