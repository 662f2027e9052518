/** The sending limits' rules: the checks' 400 texts, the pacing interval, the back-off after a relay's 421, the texts a held message shows. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkSendLimits, describeRate, FIRST_BACKOFF_MS, isThrottleReply, MAX_BACKOFF_MS, nextBackoff, pacingInterval, recipientDomain, sendLimitDelays, withHold } from '../../src/core/send-limits.ts';

describe('sending limits', () => {
  it('checks the settings: positive whole numbers, known keys, per_domain_connections for email only', () => {
    assert.deepEqual(checkSendLimits({ per_second: 14, per_hour: 50_000, per_domain_connections: 2 }, 'email'), { per_second: 14, per_hour: 50_000, per_domain_connections: 2 });
    assert.equal(checkSendLimits({}, 'email'), undefined);
    assert.equal(checkSendLimits(null, 'sms'), undefined);
    const refused = (v: unknown, channel: 'email' | 'sms', text: string) => assert.throws(() => checkSendLimits(v, channel), (e: Error) => e.message === text);
    refused({ per_second: 0 }, 'email', 'email.limits.per_second must be a whole number from 1 to 1000000');
    refused({ per_hour: 1.5 }, 'sms', 'sms.limits.per_hour must be a whole number from 1 to 1000000');
    refused({ burst: 3 }, 'email', 'email.limits.burst is not a limit (expected per_second, per_hour, per_domain_connections)');
    refused('fast', 'email', 'email.limits must be an object: {per_second, per_hour, per_domain_connections}');
    refused({ per_domain_connections: 2 }, 'sms', 'sms.limits.per_domain_connections applies to email only (an SMS has no recipient domain)');
  });

  it('paces at the stricter of the two rates, per_hour evenly', () => {
    assert.equal(pacingInterval({ per_second: 20 }), 50);
    assert.equal(pacingInterval({ per_hour: 3600 }), 1000);
    assert.equal(pacingInterval({ per_second: 20, per_hour: 3600 }), 1000);
    assert.equal(pacingInterval({ per_domain_connections: 2 }), 0);
    assert.equal(describeRate({ per_second: 20, per_hour: 3600 }), '20/s and 3600/h');
  });

  it("backs off 5 s after a relay's 421 or 454, keeps it while it lasts, doubles it to 5 min while the relay repeats, and starts over after a quiet spell", () => {
    assert.ok(isThrottleReply({ responseCode: 421 }) && isThrottleReply({ responseCode: 454 }));
    assert.ok(!isThrottleReply({ responseCode: 451 }) && !isThrottleReply({}));
    const t = 1_000_000;
    assert.equal(nextBackoff({ throttled_at: null, throttle_ms: null }, t), FIRST_BACKOFF_MS);
    assert.equal(nextBackoff({ throttled_at: t, throttle_ms: 5_000 }, t + 1_000), null, 'during the back-off');
    assert.equal(nextBackoff({ throttled_at: t, throttle_ms: 5_000 }, t + 6_000), 10_000);
    assert.equal(nextBackoff({ throttled_at: t, throttle_ms: 200_000 }, t + 250_000), MAX_BACKOFF_MS);
    assert.equal(nextBackoff({ throttled_at: t, throttle_ms: 5_000 }, t + 60_000), FIRST_BACKOFF_MS);
  });

  it('reads the recipient domain and the delays a console shows', () => {
    assert.equal(recipientDomain('John@Example.COM'), 'example.com');
    assert.equal(recipientDomain('nobody'), null);
    assert.equal(recipientDomain(null), null);
    const now = 1_000_000;
    assert.deepEqual(sendLimitDelays(new Map([['3:sms', now + 1_200], ['2:email', now + 30_000], ['4:email', now - 5]]), now), [
      { resource_id: 2, channel: 'email', next_slot_seconds: 30 },
      { resource_id: 3, channel: 'sms', next_slot_seconds: 2 },
    ]);
  });

  it("keeps one 'held' line in a message's history however often it is held", () => {
    const queued = { status: 'queued', time: 1 };
    const retry = { status: 'waiting', time: 2, detail: 'SMTP 451 try later; retry at ...' };
    const held = (t: number) => ({ status: 'waiting', time: t, detail: `held by resource 3's sending limit (20/s) until ${t}` });
    assert.deepEqual(withHold([queued], held(3)), [queued, held(3)]);
    assert.deepEqual(withHold([queued, held(3)], held(4)), [queued, held(4)]);
    assert.deepEqual(withHold([queued, retry], held(4)), [queued, retry, held(4)], 'a retry stays');
  });
});
