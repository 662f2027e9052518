/** How a provider's refusal decides a message's outcome: Retry-After is honoured, permanent refusals end it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { failureOutcome, PROFILE_DELETED, profileGoneOutcome } from '../../src/core/outcome.ts';
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

test('a claimed message whose profile is gone (erased) is skipped, its history without the details it had', () => {
  const m = { id: 1, attempts: 2, history: [{ status: 'queued', time: 1 }, { status: 'waiting', time: 2, detail: 'SMTP 452 mailbox of erin@example.com full' }] } as unknown as Message;
  const out = profileGoneOutcome(m, 3);
  assert.equal(out.status, 'skipped');
  assert.equal(out.skip_reason, PROFILE_DELETED);
  assert.equal(out.last_error, null);
  assert.deepEqual(out.history, [{ status: 'queued', time: 1 }, { status: 'waiting', time: 2 }, { status: 'skipped', time: 3, detail: 'profile_deleted: the profile no longer exists' }]);
});
