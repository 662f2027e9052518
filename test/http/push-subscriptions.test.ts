/** Importing push subscriptions with a browser's keys: what is refused (with which text), what is kept, what profile reads show. */
import assert from 'node:assert/strict';
import { createECDH, generateKeyPairSync, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, type TestServer } from '../helpers.ts';
import { vapidKeys } from '../push-fixture.ts';

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

  it('refuses push settings that cannot sign, naming the setting', async () => {
    const vapid = vapidKeys();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const sa = { client_email: 'a@p.iam.gserviceaccount.com', private_key: rsa, token_uri: 'https://oauth2.googleapis.com/token', project_id: 'p' };
    const apns = { key_id: 'K', team_id: 'T', private_key: ec, topic: 'com.shop.app' };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ webpush: { ...vapid, vapid_public_key: vapid.vapid_public_key.slice(0, 40), subject: 'mailto:a@shop.example' } }, /push\.webpush\.vapid_public_key must decode to 65 bytes/],
      [{ webpush: { ...vapid, vapid_private_key: 'AAAA', subject: 'mailto:a@shop.example' } }, /push\.webpush\.vapid_private_key must decode to 32 bytes/],
      [{ webpush: { ...vapid, subject: 'ops@shop.example' } }, /push\.webpush\.subject must be a mailto: or https: URL/],
      [{ fcm: { service_account: { ...sa, client_email: undefined } } }, /push\.fcm\.service_account\.client_email is required/],
      [{ fcm: { service_account: { ...sa, private_key: ec } } }, /push\.fcm\.service_account\.private_key is not an RSA private key in PEM/],
      [{ apns: { ...apns, private_key: rsa } }, /push\.apns\.private_key is not a P-256 \(ES256\) private key in PEM/],
      [{ apns: { ...apns, endpoint: 'api.push.apple.com' } }, /push\.apns\.endpoint must be an https:\/\/ URL/],
      [{ apns: { key_id: 'K', team_id: 'T', private_key: ec } }, /topic/],
    ];
    for (const [push, text] of cases) {
      const r = await s.call('resources/add', { name: `bad-${++n}`, channels: ['push'], push });
      assert.equal(r.status, 400, JSON.stringify(push));
      assert.match(r.body.error_text, text);
    }
    // Padded standard base64 VAPID keys are taken and kept as base64url.
    const padded = { vapid_public_key: Buffer.from(vapid.vapid_public_key, 'base64url').toString('base64'), vapid_private_key: Buffer.from(vapid.vapid_private_key, 'base64url').toString('base64'), subject: 'mailto:a@shop.example' };
    const id = ok(await s.call('resources/add', { name: `good-${++n}`, channels: ['push'], push: { webpush: padded, fcm: { service_account: sa }, apns } })).data.id;
    const got = ok(await s.call('resources/get', { id })).data.push;
    assert.equal(got.webpush.vapid_public_key, vapid.vapid_public_key);
    assert.deepEqual(got.apns, { key_id: 'K', team_id: 'T', private_key: '********', topic: 'com.shop.app' });
  });
});
