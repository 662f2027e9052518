/**
 * The one error a channel throws when its provider refuses or fails a send (SMPP, HTTP SMS gateway,
 * Web Push, FCM, APNs). It carries what the dispatcher needs to decide the outcome (core/outcome.ts):
 * whether a retry can help, how long the provider asked us to wait, and whether the address is gone.
 * `answer` is the provider's own words (status code, command status, error body) for the message history.
 */
import type { SendFailure } from '../core/retry.ts';

export interface ProviderFailure {
  permanent?: boolean;
  retryAfterMs?: number;
  subscriptionInvalid?: boolean;
  /** A short machine code, e.g. ESME_RTHROTTLED or HTTP_410; kept in last_error before the message. */
  code?: string;
}

export class ProviderError extends Error implements SendFailure {
  readonly permanent?: boolean;
  readonly retryAfterMs?: number;
  readonly subscriptionInvalid?: boolean;
  readonly code?: string;

  constructor(message: string, failure: ProviderFailure = {}) {
    super(message);
    this.name = 'ProviderError';
    Object.assign(this, failure);
  }
}
