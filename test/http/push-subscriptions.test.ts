/** Importing push subscriptions with a browser's keys: what is refused (with which text), what is kept, what profile reads show. */
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, type TestServer } from '../helpers.ts';

const p256dh = () => {
  const e = createECDH('prime256v1');
  e.generateKeys();
  return e.getPublicKey();
};

describe('push subscription keys', () => {
  let s: TestServer;
  let db: number;
  let resource: number;
  let mail: number;
  let n = 0;

  before(async () => {
    s = await startServer();
    db = ok(await s.call('databases/add', { name: 'keys' })).data.id;
    resource = ok(await s.call('resources/add', { name: 'Web', channels: ['push', 'email'], email: { from_email: 'a@shop.example' } })).data.id;
    mail = resource;
  });
  after(() => s.close());

  const endpoint = 'https://fcm.googleapis.com/fcm/send/dXJsLXNhZmU6MTIz';
  const importSub = (sub: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
    s.call('profiles/import', { db_id: db, data: { email: `k${++n}@example.com`, subscriptions: [{ resource_id: resource, channel: 'push', provider: 'Chrome', subscription_id: endpoint, ...sub }] }, ...extra });

  it('refuses malformed keys with a 400 that names the problem', async () => {
    const key = p256dh();
    const offCurve = Buffer.from(key);
    offCurve[64] ^= 1;
    const auth = randomBytes(16).toString('base64url');
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ keys: 'abc' }, /subscriptions\[0\]\.keys must be an object \{p256dh, auth\}/],
      [{ keys: { auth } }, /keys\.p256dh is required: base64url of 65 bytes/],
      [{ keys: { p256dh: 'not base64!', auth } }, /keys\.p256dh is not base64url/],
      [{ keys: { p256dh: key.subarray(0, 33).toString('base64url'), auth } }, /keys\.p256dh must decode to 65 bytes, not 33/],
      [{ keys: { p256dh: Buffer.concat([Buffer.from([2]), key.subarray(1)]).toString('base64url'), auth } }, /uncompressed P-256 point/],
      [{ keys: { p256dh: offCurve.toString('base64url'), auth } }, /keys\.p256dh is not a point on the P-256 curve/],
      [{ keys: { p256dh: key.toString('base64url'), auth: randomBytes(12).toString('base64url') } }, /keys\.auth must decode to 16 bytes, not 12/],
      [{ keys: { p256dh: key.toString('base64url'), auth }, subscription_id: 'CAREFULWITHTHATAXE' }, /subscription_id must be the push service's endpoint URL/],
      [{ channel: 'email', email: 'x@example.com', resource_id: mail, keys: { p256dh: key.toString('base64url'), auth } }, /keys are only for push subscriptions/],
    ];
    for (const [sub, text] of cases) {
      const r = await importSub(sub);
      assert.equal(r.status, 400, JSON.stringify(sub));
      assert.equal(r.body.error, 400);
      assert.match(r.body.error_text, text);
    }
    // skip_invalid_subscriptions drops the bad one and keeps the profile.
    const kept = await importSub({ keys: { auth } }, { skip_invalid_subscriptions: true });
    assert.equal(kept.status, 200);
  });

  it('accepts base64 with padding as well as base64url, keeps the keys, shows p256dh only', async () => {
    const key = p256dh();
    const auth = randomBytes(16);
    const email = `k${n + 1}@example.com`;
    ok(await importSub({ keys: { p256dh: key.toString('base64'), auth: auth.toString('base64') } }));
    const get = async () => ok(await s.call('profiles/get', { db_id: db, email })).data.subscriptions[0];
    assert.deepEqual(await get(), { id: (await get()).id, resource_id: resource, channel: 'push', provider: 'Chrome', subscription_id: endpoint, keys: { p256dh: key.toString('base64url') }, status: 'subscribed', priority: 0 });
    // A re-import that changes the status only keeps the keys (the browser does not send them again).
    ok(await s.call('profiles/import', { db_id: db, data: { email, subscriptions: [{ resource_id: resource, channel: 'push', provider: 'Chrome', subscription_id: endpoint, status: 'unsubscribed' }] } }));
    assert.deepEqual([(await get()).status, (await get()).keys], ['unsubscribed', { p256dh: key.toString('base64url') }]);
  });
});
