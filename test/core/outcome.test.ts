/** How a provider's refusal decides a message's outcome: Retry-After is honoured, permanent refusals end it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failureOutcome } from '../../src/core/outcome.ts';
import type { HistoryEntry, Message } from '../../src/core/types.ts';
import { ProviderError } from '../../src/delivery/provider-error.ts';

const policy = { maxAttempts: 5, retryBaseMs: 1000, retryMaxMs: 60_000 };
const started: HistoryEntry = { status: 'sending', time: 0, detail: 'attempt 1' };
const message = { id: 1, attempts: 1, history: [] } as unknown as Message;

test('a provider that asks for quiet (Retry-After) is not retried sooner than it asked', () => {
  const e = new ProviderError('HTTP 429 Too Many Requests', { code: 'HTTP_429', retryAfterMs: 120_000 });
  const out = failureOutcome(message, started, e, e.message, policy, 1_000, () => 0);
  assert.equal(out.status, 'waiting');
  assert.equal(out.next_attempt_at, 121_000);
});

test('without Retry-After the usual backoff applies', () => {
  const e = new ProviderError('ESME_RTHROTTLED', { code: 'ESME_RTHROTTLED' });
  const out = failureOutcome(message, started, e, e.message, policy, 1_000, () => 0);
  assert.equal(out.status, 'waiting');
  assert.equal(out.next_attempt_at, 1_500);
});

test('a permanent provider refusal fails the message at once, with its text', () => {
  const e = new ProviderError('HTTP 410 Gone: subscription expired', { permanent: true, subscriptionInvalid: true });
  const out = failureOutcome(message, started, e, e.message, policy, 1_000);
  assert.equal(out.status, 'failed');
  assert.equal(out.last_error, 'HTTP 410 Gone: subscription expired');
});
