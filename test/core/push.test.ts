/** The pure push rules: which provider sends a push subscription, and how a Retry-After reads. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pushProviderOf } from '../../src/core/push.ts';
import { parseRetryAfter } from '../../src/core/retry.ts';

describe('push rules', () => {
  it('chooses the provider: keys → Web Push, else the words of provider', () => {
    const keys = { p256dh: 'x', auth: 'y' };
    const cases: [string | null, boolean, string | null][] = [
      ['Chrome', true, 'webpush'],
      ['ios-apns', true, 'webpush'],
      ['android-firebase', false, 'fcm'],
      ['Android', false, 'fcm'],
      ['FCM', false, 'fcm'],
      ['ios-apns', false, 'apns'],
      ['iOS', false, 'apns'],
      ['apns', false, 'apns'],
      ['Chrome', false, null],
      ['Safari', false, null],
      ['iosx', false, null],
      [null, false, null],
    ];
    for (const [provider, withKeys, want] of cases) assert.equal(pushProviderOf({ provider, keys: withKeys ? keys : null }), want, `${provider} ${withKeys}`);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    assert.equal(parseRetryAfter('120', now), 120_000);
    assert.equal(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 31 Dec 2025 23:00:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon', now), undefined);
    assert.equal(parseRetryAfter(undefined, now), undefined);
    assert.equal(parseRetryAfter('99999999', now), 24 * 3_600_000);
  });
});
