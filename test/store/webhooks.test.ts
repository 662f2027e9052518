/**
 * Webhook rules and their store below the API: the Standard Webhooks signature (the specification's
 * own example), the retry schedule, private ranges, which endpoints an event goes to, launch.done
 * written once however many sweeps race, and message.delivered written once by an SMS delivery receipt.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isPublicAddress } from '../../src/core/egress.ts';
import { signature, webhookRetryDelay } from '../../src/core/webhooks.ts';
import { postWebhook } from '../../src/delivery/webhook-post.ts';
import { driverOf } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { startReceiver } from '../webhook-receiver.ts';
import { seedLaunch } from './seed.ts';

describe('webhook rules', () => {
  it('signs as the Standard Webhooks specification\'s example does', () => {
    const sig = signature('whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'msg_p5jXN8AQM9LWM0D4loKWxJek', 1614265330, '{"test": 2432232314}');
    assert.equal(sig, 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('retries for about 24 hours, 5 s first, with jitter, then gives up', () => {
    const low = Array.from({ length: 17 }, (_, i) => webhookRetryDelay(i + 1, () => 0)!);
    const high = Array.from({ length: 17 }, (_, i) => webhookRetryDelay(i + 1, () => 1)!);
    assert.deepEqual([low[0], high[0]], [4000, 6000]);
    const total = Array.from({ length: 17 }, (_, i) => webhookRetryDelay(i + 1, () => 0.5)!).reduce((a, b) => a + b, 0);
    assert.ok(total > 23 * 3_600_000 && total < 25 * 3_600_000, `${total / 3_600_000} h`);
    assert.equal(webhookRetryDelay(18), null);
  });

  it('knows private, loopback and link-local addresses, and IPv6 forms that carry them', () => {
    const refused = ['127.0.0.1', '10.0.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1',
      // IPv4-compatible (both spellings), NAT64's well-known prefix, 6to4, SIIT, multicast, documentation.
      '::127.0.0.1', '::7f00:1', '64:ff9b::7f00:1', '64:ff9b::a9fe:a9fe', '2002:7f00:1::', '2002:c0a8:101::1', '::ffff:0:7f00:1', 'ff02::1', '224.0.0.1', '192.0.2.1', '2001:db8::1'];
    for (const a of refused) assert.equal(isPublicAddress(a), false, a);
    for (const a of ['8.8.8.8', '172.32.0.1', '2606:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::']) assert.equal(isPublicAddress(a), true, a);
  });

  it('refuses at post time a name that resolves to a private address, when told to', async () => {
    const r = await startReceiver();
    try {
      const url = r.url.replace('127.0.0.1', 'localhost');
      const refused = await postWebhook(url, `whsec_${Buffer.alloc(24).toString('base64')}`, 'msg_1', 1, '{}', { timeoutMs: 2000, denyPrivate: true });
      assert.match(String(refused.error), /localhost resolves to .*, a private address \(loopback\): refused by SALVO_EGRESS_DENY_PRIVATE/);
      assert.equal(r.received.length, 0);
      const posted = await postWebhook(r.url, `whsec_${Buffer.alloc(24).toString('base64')}`, 'msg_1', 1, '{}', { timeoutMs: 2000, denyPrivate: false });
      assert.deepEqual(posted, { statusCode: 200, error: null });
    } finally {
      await r.close();
    }
  });
});

for (const kind of STORE_KINDS) {
  describe(`webhook store (${kind})`, () => {
    let t: TestStore;
    before(async () => {
      t = await openTestStore(kind);
    });
    after(() => t.close());

    const secret = `whsec_${Buffer.alloc(24, 1).toString('base64')}`;
    const eventsOf = async (webhookId: number) => (await t.store.listWebhookEvents(webhookId, undefined, null, 100)).map((d) => ({ type: d.type, data: JSON.parse(d.payload).data }));

    it('writes an event for the endpoints that take it: its type, its campaign (1 is not 11), enabled', async () => {
      const now = Date.now();
      const { campaign, launch } = await seedLaunch(t.store, now);
      const hook = (events: string[], campaign_ids: number[] | null) => t.store.insertWebhook({ url: 'http://h.example/', events, campaign_ids, secret }, now);
      const delivered = await hook(['message.delivered'], [campaign]);
      const all = await hook(['*'], null);
      const otherCampaign = await hook(['*'], [campaign * 10 + 1]);
      const otherType = await hook(['message.sent'], [campaign]);
      const disabled = await hook(['*'], null);
      await t.store.updateWebhook(disabled.id, { enabled: false }, now);
      await t.store.insertMessages(launch, [{ campaign_id: campaign, profile_id: 'p1', subscription_id: 1, channel: 'sms', address: '+79000000001', status: 'queued', skip_reason: null, priority: 1, next_attempt_at: now, overrides: null, custom_data: { ref: 7 }, variant: null, template_id: null }], now);
      const driver = driverOf(t.store);
      const row = (await driver.get<{ id: number }>('SELECT id FROM messages WHERE launch_id = ?', [launch]))!;
      // Sent as one SMS part (what completeMessage records for SMPP), then its receipt, twice.
      await driver.run("UPDATE messages SET status = 'sent' WHERE id = ?", [row.id]);
      await driver.run('INSERT INTO sms_parts (provider_message_id, message_id, part, parts, state) VALUES (?, ?, 1, 1, NULL)', ['smsc-1', row.id]);
      const receipt = { smsc: 'sys@smsc.example:2775', providerId: 'smsc-1', stat: 'DELIVRD', detail: 'receipt: DELIVRD' };
      for (let i = 0; i < 2; i++) assert.deepEqual(await t.store.applySmsReceipts([receipt], now), [{ message_id: Number(row.id), status: 'delivered', repeated: i === 1 }]);
      const expected = [{ type: 'message.delivered', data: { message_id: Number(row.id), launch_id: launch, campaign_id: campaign, profile_id: 'p1', channel: 'sms', address: '+79000000001', status: 'delivered', custom_data: { ref: 7 } } }];
      assert.deepEqual(await eventsOf(delivered.id), expected);
      assert.deepEqual(await eventsOf(all.id), expected);
      for (const none of [otherCampaign, otherType, disabled]) assert.deepEqual(await eventsOf(none.id), [], String(none.events));
    });

    it('writes launch.done once however many sweeps run at once, and only when no message is open', async () => {
      const now = Date.now();
      const campaign = (await t.store.listWebhooks())[0].campaign_ids![0];
      const { id: launch } = await t.store.insertLaunch({ campaign_id: campaign, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, now);
      const hook = await t.store.insertWebhook({ url: 'http://h.example/', events: ['launch.done'], campaign_ids: [campaign], secret }, now);
      await t.store.insertMessages(launch, [{ campaign_id: campaign, profile_id: 'p2', subscription_id: 1, channel: 'email', address: 'a@example.com', status: 'queued', skip_reason: null, priority: 1, next_attempt_at: now, overrides: null, custom_data: null, variant: null, template_id: null }], now);
      const ofLaunch = async () => (await eventsOf(hook.id)).filter((e) => e.data.launch_id === launch);
      await t.store.finishLaunches(now, { limit: 100 });
      assert.deepEqual(await ofLaunch(), [], 'a queued message keeps the launch open');
      await driverOf(t.store).run("UPDATE messages SET status = 'sent' WHERE launch_id = ?", [launch]);
      const swept = await Promise.allSettled(Array.from({ length: 4 }, () => t.store.finishLaunches(now, { limit: 100 })));
      assert.equal(swept.filter((s) => s.status === 'fulfilled').reduce((n, s) => n + (s as PromiseFulfilledResult<{ done: number }>).value.done, 0) >= 1, true);
      await t.store.finishLaunches(now, { limit: 100 });
      const events = await ofLaunch();
      assert.equal(events.length, 1);
      assert.deepEqual(events[0], { type: 'launch.done', data: { launch_id: launch, campaign_id: campaign, total: 0, counts: { sent: 1 }, custom_data: null } });
    });

    it('looks at a bounded number of open launches a sweep, going on from where the last one ended and round again', async () => {
      const now = Date.now();
      const campaign = (await t.store.listWebhooks())[0].campaign_ids![0];
      // Whatever earlier tests left open is done first, so the five below are the only open launches.
      while ((await t.store.finishLaunches(now, { limit: 1000, walk: 100_000 })).done > 0);
      const ids: number[] = [];
      for (let i = 0; i < 5; i++) ids.push((await t.store.insertLaunch({ campaign_id: campaign, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, now)).id);
      // The first two still have a queued message each; the other three are done.
      for (const launch of ids.slice(0, 2)) {
        await t.store.insertMessages(launch, [{ campaign_id: campaign, profile_id: `w${launch}`, subscription_id: 1, channel: 'email', address: 'a@example.com', status: 'queued', skip_reason: null, priority: 1, next_attempt_at: now, overrides: null, custom_data: null, variant: null, template_id: null }], now);
      }
      const open = async () => (await Promise.all(ids.map((id) => driverOf(t.store).get<{ done_at: number | null }>('SELECT done_at FROM launches WHERE id = ?', [id])))).map((r) => r!.done_at === null);
      assert.deepEqual(await t.store.finishLaunches(now, { limit: 100, walk: 2 }), { done: 0, next: ids[1] }, 'the two open ones looked at; nothing done');
      assert.deepEqual(await t.store.finishLaunches(now, { limit: 100, after: ids[1], walk: 2 }), { done: 2, next: ids[3] });
      assert.deepEqual(await open(), [true, true, false, false, true], 'only the launches walked were marked');
      assert.deepEqual(await t.store.finishLaunches(now, { limit: 100, after: ids[3], walk: 2 }), { done: 1, next: 0 }, 'the end reached: round again');
      assert.deepEqual(await open(), [true, true, false, false, false]);
    });
  });
}
