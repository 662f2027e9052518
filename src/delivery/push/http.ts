/**
 * What the push providers share about HTTP answers: reading a JSON body, the excerpt a history keeps
 * (core/peer-answer.ts), and what a refusal means for a push. The client is delivery/http-client.ts.
 */
import { parseRetryAfter } from '../../core/retry.ts';
import type { HttpAnswer } from '../http-client.ts';
import { ProviderError } from '../provider-error.ts';

/** An answer's JSON object, or {} when it is not one (a 2xx with a body we cannot read is still a success). */
export function jsonOf(body: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * What an HTTP refusal means for a push: 429 and 5xx pass (Retry-After honoured); 404 and 410 from a
 * Web Push service mean the subscription is gone (RFC 8030 §7.3); other 4xx are final.
 */
export function httpFailure(a: HttpAnswer, text: string, o: { goneMeansInvalid: boolean; code?: string }, now = Date.now()): ProviderError {
  const code = o.code ?? `HTTP_${a.status}`;
  if (a.status === 429 || a.status >= 500) return new ProviderError(text, { code, retryAfterMs: parseRetryAfter(a.headers['retry-after'], now) });
  const gone = o.goneMeansInvalid && (a.status === 404 || a.status === 410);
  return new ProviderError(text, { code, permanent: true, subscriptionInvalid: gone });
}
