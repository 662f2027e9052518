/**
 * Push to apps through the API: FCM HTTP v1 (service-account JWT exchanged for an OAuth token, then
 * the send) and APNs over HTTP/2 (ES256 provider token), each against a real local endpoint that
 * checks the token and the request; UNREGISTERED / 410 Unregistered / BadDeviceToken mark the
 * subscription invalid.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, type TestServer } from '../helpers.ts';
import { type PushShop, setupPushShop } from '../push-fixture.ts';
import { type ApnsPeer, FCM_UNREGISTERED, type FcmPeer, startApns, startFcm } from '../push-peers.ts';

describe('push to apps', () => {
  let s: TestServer;
  let fcm: FcmPeer;
  let apns: ApnsPeer;
  let shop: PushShop;

  before(async () => {
    [fcm, apns] = await Promise.all([startFcm(), startApns()]);
    s = await startServer({ workers: true, env: { SALVO_MAX_ATTEMPTS: '4' } });
    shop = await setupPushShop(s, { fcm: { service_account: fcm.serviceAccount, endpoint: fcm.url }, apns: apns.settings });
  });
  after(async () => {
    await s.close();
    await Promise.all([fcm.close(), apns.close()]);
  });

  it('sends to an android subscription through FCM with one OAuth token for many messages', async () => {
    const emails = [];
    for (const provider of ['android-firebase', 'Android', 'fcm']) emails.push(await shop.person([{ provider, subscription_id: `token-${provider}` }]));
    const ms = await Promise.all(emails.map(async (e) => shop.settled(await shop.launch(e))));
    assert.deepEqual(ms.map((m) => m.status), ['sent', 'sent', 'sent'], JSON.stringify(ms));
    assert.deepEqual(fcm.problems, []);
    assert.equal(fcm.exchanges, 1);
    const got = fcm.delivered.find((d) => d.token === 'token-android-firebase')!;
    assert.deepEqual(got.notification, { title: 'Hi Ann', body: 'Order A-17 is paid' });
    assert.deepEqual(got.data, { url: 'https://shop.example/o/A-17', icon: 'https://shop.example/i.png', message_id: String(ms[0].id) });
    assert.deepEqual(got.android, { priority: 'HIGH', ttl: '86400s' });
    assert.match(ms[0].history.at(-1)!.detail!, /^FCM: 127\.0\.0\.1:\d+ answered 200 \(projects\/shop-app\/messages\/\d+\)$/);
    const resource = ok(await s.call('resources/get', { id: shop.resource })).data;
    assert.equal(resource.push.fcm.service_account.private_key, '********');
    assert.equal(resource.push.fcm.service_account.client_email, fcm.serviceAccount.client_email);
    assert.equal(resource.push.apns.private_key, '********');
  });

  it('takes a new OAuth token once when FCM refuses the one it has', async () => {
    fcm.revoke();
    const before = fcm.exchanges;
    const m = await shop.settled(await shop.launch(await shop.person([{ provider: 'android', subscription_id: 'token-after-revoke' }])));
    assert.deepEqual([m.status, m.attempts, fcm.exchanges - before], ['sent', 1, 1]);
  });

  it('marks an FCM token UNREGISTERED invalid; retries QUOTA_EXCEEDED after its Retry-After', async () => {
    fcm.script.set('token-gone', [FCM_UNREGISTERED]);
    const gone = await shop.person([{ provider: 'android', subscription_id: 'token-gone' }]);
    const m = await shop.settled(await shop.launch(gone));
    assert.deepEqual([m.status, m.attempts], ['failed', 1]);
    assert.match(m.last_error!, /^UNREGISTERED: FCM at 127\.0\.0\.1:\d+ answered 404 UNREGISTERED/);
    assert.equal((await shop.subscriptions(gone))[0].status, 'invalid');
    assert.equal((await shop.settled(await shop.launch(gone))).skip_reason, 'invalid');

    fcm.script.set('token-busy', [{ status: 429, headers: { 'retry-after': '1' }, body: JSON.stringify({ error: { status: 'RESOURCE_EXHAUSTED', details: [{ errorCode: 'QUOTA_EXCEEDED' }] } }) }]);
    const busy = await shop.settled(await shop.launch(await shop.person([{ provider: 'android', subscription_id: 'token-busy' }])));
    assert.deepEqual([busy.status, busy.attempts], ['sent', 2]);
    assert.match(busy.history.find((h) => h.status === 'waiting')!.detail!, /^QUOTA_EXCEEDED: /);
  });

  it('sends to an ios subscription through APNs over HTTP/2 with the ES256 provider token', async () => {
    const emails = [];
    for (const provider of ['ios-apns', 'iOS', 'apns']) emails.push(await shop.person([{ provider, subscription_id: `dev${provider.replace(/\W/g, '')}`.padEnd(64, '0') }]));
    const ms = await Promise.all(emails.map(async (e) => shop.settled(await shop.launch(e))));
    assert.deepEqual(ms.map((m) => m.status), ['sent', 'sent', 'sent'], JSON.stringify(ms));
    assert.deepEqual(apns.problems, []);
    const got = apns.delivered.find((d) => d.token.startsWith('deviosapns'))!;
    assert.deepEqual(got.payload, { aps: { alert: { title: 'Hi Ann', body: 'Order A-17 is paid' }, sound: 'default' }, url: 'https://shop.example/o/A-17', icon: 'https://shop.example/i.png', message_id: ms[0].id });
    assert.ok(Number(got.headers['apns-expiration']) > Date.now() / 1000 + 86_000);
    assert.equal(apns.sessions, 1, 'one HTTP/2 session carries every push');
    assert.match(ms[0].history.at(-1)!.detail!, /^APNs: 127\.0\.0\.1:\d+ answered 200 \(apns-id 0000-\d+\)$/);
  });

  it('marks 410 Unregistered and 400 BadDeviceToken invalid; retries 503; reconnects after GOAWAY', async () => {
    apns.script.set('gone', [{ status: 410, reason: 'Unregistered' }]);
    apns.script.set('bad', [{ status: 400, reason: 'BadDeviceToken' }]);
    apns.script.set('busy', [{ status: 503, reason: 'ServiceUnavailable' }]);
    const [gone, bad, busy] = await Promise.all(['gone', 'bad', 'busy'].map((t) => shop.person([{ provider: 'ios', subscription_id: t }])));
    const [mg, mb, mu] = await Promise.all([gone, bad, busy].map(async (e) => shop.settled(await shop.launch(e))));
    assert.deepEqual([mg.status, mg.last_error], ['failed', 'Unregistered: APNs at ' + new URL(apns.url).host + ' answered 410 Unregistered']);
    assert.deepEqual([mb.status, mb.attempts], ['failed', 1]);
    assert.equal((await shop.subscriptions(gone))[0].status, 'invalid');
    assert.equal((await shop.subscriptions(bad))[0].status, 'invalid');
    assert.deepEqual([mu.status, mu.attempts], ['sent', 2]);
    assert.equal((await shop.subscriptions(busy))[0].status, 'subscribed');

    const sessions = apns.sessions;
    apns.goaway();
    const again = await shop.settled(await shop.launch(busy));
    assert.equal(again.status, 'sent', JSON.stringify(again));
    assert.equal(apns.sessions, sessions + 1);
  });
});
