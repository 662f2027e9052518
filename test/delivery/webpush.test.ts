/**
 * Web Push through the API to a real push service on 127.0.0.1: the service decrypts each payload with
 * the browser's private key (RFC 8291) and checks the VAPID token (RFC 8292); its answers drive
 * retries (429 with Retry-After, 5xx) and the subscription's status (410 → invalid, skipped after).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';
import { type PushShop, setupPushShop, vapidKeys } from '../push-fixture.ts';
import { type PushService, startPushService } from '../push-peers.ts';

const SUBJECT = 'mailto:ops@shop.example';

for (const kind of STORE_KINDS) {
  describe(`Web Push (${kind})`, () => {
    let s: TestServer;
    let service: PushService;
    let shop: PushShop;
    const vapid = vapidKeys();

    before(async () => {
      service = await startPushService(vapid.vapid_public_key, SUBJECT);
      s = await startServer({ kind, workers: true, env: { SALVO_MAX_ATTEMPTS: '4' } });
      shop = await setupPushShop(s, { name: 'Shop', ttl: 3600, webpush: { ...vapid, subject: SUBJECT } });
    });
    after(async () => {
      await s.close();
      await service.close();
    });

    const browserPerson = async (id: string) => {
      const b = service.browser(id);
      return shop.person([{ provider: 'Chrome', subscription_id: b.endpoint, keys: b.keys }]);
    };

    it('encrypts the payload for the browser, signs VAPID, sends TTL and Urgency: high', async () => {
      const email = await browserPerson('ok-1');
      const m = await shop.settled(await shop.launch(email));
      assert.equal(m.status, 'sent', JSON.stringify(m));
      assert.deepEqual(service.problems, []);
      const [got] = service.delivered.filter((d) => d.id === 'ok-1');
      assert.deepEqual(got.payload, { title: 'Hi Ann', body: 'Order A-17 is paid', url: 'https://shop.example/o/A-17', icon: 'https://shop.example/i.png', message_id: m.id });
      assert.deepEqual([got.ttl, got.urgency, got.claims.sub], ['3600', 'high', SUBJECT]);
      assert.match(m.history.at(-1)!.detail!, /^Web Push: 127\.0\.0\.1:\d+ answered 201$/);
    });

    it('shows the p256dh key in profile reads, never the auth secret, nor the VAPID private key in resources/get', async () => {
      const b = service.browser('read-1');
      const email = await shop.person([{ provider: 'Firefox', subscription_id: b.endpoint, keys: b.keys }]);
      const [sub] = await shop.subscriptions(email);
      assert.deepEqual(sub.keys, { p256dh: b.keys.p256dh });
      const resource = ok(await s.call('resources/get', { id: shop.resource })).data;
      assert.deepEqual(resource.push, { name: 'Shop', ttl: 3600, webpush: { vapid_public_key: vapid.vapid_public_key, vapid_private_key: '********', subject: SUBJECT } });
      assert.doesNotMatch(JSON.stringify(ok(await s.call('resources/list')).data), new RegExp(vapid.vapid_private_key));
    });

    it('marks the subscription invalid on 410 Gone, and the next launch skips it', async () => {
      const email = await browserPerson('gone-1');
      service.script.set('gone-1', [{ status: 410, body: 'push subscription has unsubscribed or expired' }]);
      const m = await shop.settled(await shop.launch(email));
      assert.deepEqual([m.status, m.attempts], ['failed', 1]);
      assert.match(m.last_error!, /^HTTP_410: the push service at 127\.0\.0\.1:\d+ answered 410: push subscription has unsubscribed or expired$/);
      assert.equal((await shop.subscriptions(email))[0].status, 'invalid');
      const next = await shop.settled(await shop.launch(email));
      assert.deepEqual([next.status, next.skip_reason], ['skipped', 'invalid']);
      assert.equal(service.requests.get('gone-1'), 1);
    });

    it('retries 429 no sooner than its Retry-After, and 503, then delivers once', async () => {
      const email = await browserPerson('busy-1');
      service.script.set('busy-1', [{ status: 429, headers: { 'retry-after': '1' } }, { status: 503 }]);
      const m = await shop.settled(await shop.launch(email));
      assert.deepEqual([m.status, m.attempts], ['sent', 3], JSON.stringify(m.history));
      const waits = m.history.filter((h) => h.status === 'waiting');
      assert.match(waits[0].detail!, /^HTTP_429: .* answered 429; retry at /);
      const retryAt = Date.parse(/retry at (\S+)$/.exec(waits[0].detail!)![1]);
      assert.ok(retryAt - Date.parse(waits[0].time) >= 1000, `retry at ${retryAt} honours Retry-After: 1 (failed at ${waits[0].time})`);
      assert.match(waits[1].detail!, /^HTTP_503: /);
      assert.equal(service.delivered.filter((d) => d.id === 'busy-1').length, 1);
      assert.equal((await shop.subscriptions(email))[0].status, 'subscribed');
    });

    it('fails other 4xx at once and leaves the subscription alone', async () => {
      const email = await browserPerson('big-1');
      service.script.set('big-1', [{ status: 413, body: 'payload too large' }]);
      const m = await shop.settled(await shop.launch(email));
      assert.deepEqual([m.status, m.attempts], ['failed', 1]);
      assert.match(m.last_error!, /^HTTP_413: /);
      assert.equal((await shop.subscriptions(email))[0].status, 'subscribed');
    });

    it('import_and_start takes a browser subscription with its keys and delivers to it', async () => {
      const b = service.browser('ias-1');
      const r = await s.call('campaigns/triggers/import_and_start', {
        trigger_id: shop.campaign,
        email: 'ias@example.com',
        data: { email: 'ias@example.com', _fname: 'Ivy', subscriptions: [{ resource_id: shop.resource, channel: 'push', provider: 'Chrome', subscription_id: b.endpoint, keys: b.keys }] },
        content: { order: 'B-2' },
      });
      ok(r);
      const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
      assert.equal((await shop.settled(m.id)).status, 'sent');
      assert.equal(service.delivered.find((d) => d.id === 'ias-1')?.payload.title, 'Hi Ivy');
    });
  });
}

describe('push without provider settings', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ workers: true });
  });
  after(() => s.close());

  it('keeps the push in the outbox and says why', async () => {
    const shop = await setupPushShop(s, { name: 'Dev' });
    const email = await shop.person([{ provider: 'android', subscription_id: 'fcm-token-1' }, { provider: 'Safari', subscription_id: 'legacy-id', priority: -1 }]);
    const m = await shop.settled(await shop.launch(email));
    assert.equal(m.status, 'captured');
    assert.equal(m.history.at(-1)!.detail, `captured in the outbox: resource ${shop.resource} has no FCM settings`);
    const [entry] = ok(await s.call('outbox/list', { channel: 'push' })).data;
    assert.deepEqual([entry.recipient, entry.subject], ['fcm-token-1', 'Hi Ann']);
  });
});

describe('Web Push with the VAPID keys from the environment', () => {
  let s: TestServer;
  let service: PushService;
  const vapid = vapidKeys();
  before(async () => {
    service = await startPushService(vapid.vapid_public_key, SUBJECT);
    s = await startServer({ workers: true, env: { SALVO_VAPID_PUBLIC_KEY: vapid.vapid_public_key, SALVO_VAPID_PRIVATE_KEY: vapid.vapid_private_key, SALVO_VAPID_SUBJECT: SUBJECT } });
  });
  after(async () => {
    await s.close();
    await service.close();
  });

  it('signs with SALVO_VAPID_* for a resource without webpush settings of its own', async () => {
    const shop = await setupPushShop(s, { name: 'Env' });
    const b = service.browser('env-1');
    const m = await shop.settled(await shop.launch(await shop.person([{ provider: 'Chrome', subscription_id: b.endpoint, keys: b.keys }])));
    assert.equal(m.status, 'sent', JSON.stringify(m));
    assert.deepEqual(service.problems, []);
    assert.equal(service.delivered.filter((d) => d.id === 'env-1').length, 1);
    assert.deepEqual(ok(await s.call('resources/get', { id: shop.resource })).data.push, { name: 'Env' }, 'resources/get shows what the resource holds');
  });
});
