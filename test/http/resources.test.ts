/**
 * Provider settings on resources: checked with a 400 naming the field, secrets never shown by
 * resources/get or resources/list, changed by resources/update, kept when sent back masked
 * (test/faults/secret-logs.test.ts checks the log). email.dkim has its own block below.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { ok, startServer, type TestServer } from '../helpers.ts';
import { startSmsc, type TestSmsc } from '../smsc.ts';
import { setupSmsShop } from '../delivery/sms.ts';

const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const ecdh = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const jwk = ecdh.privateKey.export({ format: 'jwk' });
const vapidPublic = Buffer.concat([Buffer.from([4]), Buffer.from(jwk.x!, 'base64url'), Buffer.from(jwk.y!, 'base64url')]).toString('base64url');

const FULL = {
  name: 'Everything',
  channels: ['sms', 'push'],
  sms: {
    sender: 'SHOP',
    http: { url: 'https://sms.example/send?api_key=k3y-s3cret&to={to}', headers: { Authorization: 'Bearer tok-s3cret', 'Content-Type': 'application/json' }, body: '{"t":"{text}"}' },
  },
  push: {
    name: 'Shop',
    webpush: { vapid_public_key: vapidPublic, vapid_private_key: jwk.d!, subject: 'mailto:ops@shop.example' },
    fcm: { service_account: { project_id: 'shop', client_email: 'fcm@shop.iam.example', private_key: rsa, private_key_id: 'kid-s3cret', token_uri: 'https://oauth2.example/token' } },
    apns: { key_id: 'ABC123DEFG', team_id: 'TEAM123456', private_key: pem, topic: 'com.shop.app', endpoint: 'https://apns.example' },
  },
};

const SECRETS = ['k3y-s3cret', 'tok-s3cret', jwk.d!, 'kid-s3cret', 'BEGIN PRIVATE KEY'];

describe('resources with provider settings', () => {
  let s: TestServer;
  let id: number;
  before(async () => {
    s = await startServer();
    id = ok(await s.call('resources/add', FULL)).data.id;
  });
  after(() => s.close());

  test('resources/get and resources/list show every secret as ********, the rest as stored', async () => {
    const got = ok(await s.call('resources/get', { id })).data;
    const listed = ok(await s.call('resources/list')).data.find((r: { id: number }) => r.id === id);
    assert.deepEqual(listed, got);
    const text = JSON.stringify(got);
    for (const secret of SECRETS) assert.ok(!text.includes(secret), `resources/get shows ${secret.slice(0, 12)}...`);
    assert.equal(got.sms.http.url, 'https://sms.example/send?api_key=********&to={to}');
    assert.deepEqual(got.sms.http.headers, { Authorization: '********', 'Content-Type': 'application/json' });
    assert.equal(got.push.webpush.vapid_private_key, '********');
    assert.equal(got.push.webpush.vapid_public_key, vapidPublic);
    assert.equal(got.push.fcm.service_account.private_key, '********');
    assert.equal(got.push.fcm.service_account.private_key_id, '********');
    assert.equal(got.push.fcm.service_account.client_email, 'fcm@shop.iam.example');
    assert.equal(got.push.apns.private_key, '********');
    assert.equal(got.push.apns.key_id, 'ABC123DEFG');
  });

  test('resources/update: sent back as shown, secrets are kept; given anew, they change', async () => {
    const shown = ok(await s.call('resources/get', { id })).data;
    const again = ok(await s.call('resources/update', { id, sms: shown.sms, push: shown.push })).data;
    assert.deepEqual(again, shown);
    // A send reads the stored settings: the masked form must not have replaced them. Change one header and check the rest stayed.
    const changed = ok(await s.call('resources/update', { id, sms: { ...shown.sms, http: { ...shown.sms.http, headers: { Authorization: 'Bearer new-s3cret', 'X-Extra': '********' } } } })).data;
    assert.deepEqual(changed.sms.http.headers, { Authorization: '********', 'X-Extra': '********' });
    const stored = await s.app.store.getResource(id);
    assert.equal(stored!.sms!.http!.headers!.Authorization, 'Bearer new-s3cret');
    assert.equal(stored!.sms!.http!.url, FULL.sms.http.url, 'the masked URL sent back kept the stored one');
    assert.equal(stored!.push!.apns!.private_key, pem);
    assert.equal(stored!.sms!.http!.headers!['X-Extra'], '********', 'a new header is taken as given, even if it looks masked');
    const renamed = ok(await s.call('resources/update', { id, name: 'Renamed' })).data;
    assert.equal(renamed.name, 'Renamed');
    assert.equal(renamed.sms.sender, 'SHOP');
  });

  test('resource_token: random per resource, shown by resources/get, replaced only by rotate_resource_token', async () => {
    const shown = ok(await s.call('resources/get', { id })).data;
    assert.match(shown.resource_token, /^[A-Za-z0-9_-]{32}$/);
    const other = ok(await s.call('resources/add', { name: 'Token peer', channels: ['push'] })).data.id;
    assert.notEqual(ok(await s.call('resources/get', { id: other })).data.resource_token, shown.resource_token);
    assert.equal(ok(await s.call('resources/update', { id, name: shown.name })).data.resource_token, shown.resource_token);
    const rotated = ok(await s.call('resources/update', { id, rotate_resource_token: true })).data;
    assert.match(rotated.resource_token, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(rotated.resource_token, shown.resource_token);
    assert.equal(ok(await s.call('resources/get', { id })).data.resource_token, rotated.resource_token);
  });

  test('bad settings are refused with a 400 naming the field', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ sms: { smpp: { url: 'http://x' } } }, /sms\.smpp\.url must start with smpp:\/\/ or smpps:\/\//],
      [{ sms: { smpp: { url: 'smpp://host:2775' } } }, /sms\.smpp\.url must carry the system_id/],
      [{ sms: { smpp: { url: 'smpp://a:123456789@host' } } }, /password is longer than 8/],
      [{ sms: { smpp: { url: 'smpp://a:b@host', window: 0 } } }, /must be|window/],
      [{ sms: { smpp: { url: 'smpp://a:b@host' }, http: { url: 'https://x' } } }, /one provider, smpp or http, not both/],
      [{ sms: { http: { url: 'ftp://x/{to}' } } }, /sms\.http\.url must start with http:\/\/ or https:\/\//],
      [{ sms: { http: { url: 'https://x', method: 'DELETE' } } }, /method|must be equal to one of/],
      [{ sms: { sender: 'A very long sender name' } }, /sms\.sender must be up to 11/],
      [{ sms: { smpp: { url: 'smpp://a:b@host', speed: 1 } } }, /sms\.smpp\.speed is not a setting/],
      [{ push: { webpush: { vapid_public_key: 'abc', vapid_private_key: jwk.d, subject: 'mailto:a@b.c' } } }, /push\.webpush\.vapid_public_key must decode to 65 bytes/],
      [{ push: { webpush: { vapid_public_key: vapidPublic, vapid_private_key: jwk.d, subject: 'ops' } } }, /subject must be a mailto: or https: URL/],
      [{ push: { apns: { key_id: 'k', team_id: 't', private_key: 'not a key', topic: 'x' } } }, /push\.apns\.private_key is not a P-256 \(ES256\) private key in PEM/],
      [{ push: { fcm: { service_account: { project_id: 'p', client_email: 'e' } } } }, /push\.fcm\.service_account\.private_key is required/],
    ];
    for (const [extra, text] of cases) {
      const r = await s.call('resources/add', { name: 'bad', channels: ['sms', 'push'], ...extra });
      assert.equal(r.status, 400, JSON.stringify(extra));
      assert.match(r.body.error_text, text);
    }
    const missing = await s.call('resources/update', { id: 999, name: 'x' });
    assert.equal(missing.status, 404);
  });
});

describe('resources/update changes where SMS goes', () => {
  let smscA: TestSmsc;
  let smscB: TestSmsc;
  let s: TestServer;
  before(async () => {
    smscA = await startSmsc();
    smscB = await startSmsc({ systemId: 'other', password: 'pw2' });
    s = await startServer({ workers: true });
  });
  after(async () => {
    await s.close();
    await smscA.close();
    await smscB.close();
  });

  test('a new SMPP URL (with a new password) takes effect for the next message', async () => {
    const shop = await setupSmsShop(s, { smpp: { url: smscA.url } }, ['+79000000011']);
    await shop.message(await shop.start('+79000000011', { text: 'first' }), (m) => m.status === 'delivered');
    ok(await s.call('resources/update', { id: shop.resource, sms: { smpp: { url: smscB.url } } }));
    await shop.message(await shop.start('+79000000011', { text: 'second' }), (m) => m.status === 'delivered');
    assert.deepEqual(smscA.messages().map((m) => m.text), ['first']);
    assert.deepEqual(smscB.messages().map((m) => m.text), ['second']);
    const shown = ok(await s.call('resources/get', { id: shop.resource })).data;
    assert.equal(shown.sms.smpp.url, `smpp://other:********@127.0.0.1:${smscB.port}`);
  });
});

describe('email.dkim on resources', () => {
  const dkimKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const dkim = { domain: 'Shop.Example', selector: 's2026', private_key: dkimKey };
  let s: TestServer;
  before(async () => (s = await startServer()));
  after(() => s.close());

  test('the private key is shown as ********, kept when sent back so, replaced when given anew', async () => {
    const id = ok(await s.call('resources/add', { name: 'Signed', channels: ['email'], email: { from_email: 'news@shop.example', dkim } })).data.id;
    const shown = ok(await s.call('resources/get', { id })).data;
    assert.deepEqual(shown.email.dkim, { domain: 'shop.example', selector: 's2026', private_key: '********' });
    assert.ok(!JSON.stringify(ok(await s.call('resources/list')).data).includes('PRIVATE KEY'));
    assert.deepEqual(ok(await s.call('resources/update', { id, email: shown.email })).data, shown);
    assert.equal((await s.app.store.getResource(id))!.email!.dkim!.private_key, dkimKey);
    const next = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    ok(await s.call('resources/update', { id, email: { ...shown.email, dkim: { ...shown.email.dkim, private_key: next } } }));
    assert.equal((await s.app.store.getResource(id))!.email!.dkim!.private_key, next);
    ok(await s.call('resources/update', { id, email: { from_email: 'news@shop.example' } }));
    assert.equal(ok(await s.call('resources/get', { id })).data.email.dkim, undefined, 'an email block without dkim turns signing off');
  });

  test('bad dkim settings are refused with a 400 naming the field', async () => {
    const weak = generateKeyPairSync('rsa', { modulusLength: 512 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ed25519 = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ ...dkim, domain: 'not a host' }, /email\.dkim\.domain is not a host name/],
      [{ ...dkim, domain: 'localhost' }, /email\.dkim\.domain is not a host name/],
      [{ ...dkim, selector: 'a.b' }, /email\.dkim\.selector is not a DNS label/],
      [{ ...dkim, selector: '-x' }, /email\.dkim\.selector is not a DNS label/],
      [{ ...dkim, private_key: 'not a key' }, /email\.dkim\.private_key is not a PEM private key/],
      [{ ...dkim, private_key: pem.replace(/[A-Za-z]{8}\n/, 'AAAAAAAA\n') }, /email\.dkim\.private_key is not a PEM private key|must be an RSA key/],
      [{ ...dkim, private_key: weak }, /email\.dkim\.private_key has 512 bits; DKIM needs 1024 or more/],
      [{ ...dkim, private_key: pem }, /email\.dkim\.private_key must be an RSA key .* not ec/],
      [{ ...dkim, private_key: ed25519 }, /email\.dkim\.private_key must be an RSA key .* not ed25519/],
      [{ domain: 'shop.example', selector: 's' }, /email\.dkim.*private_key/],
    ];
    for (const [bad, text] of cases) {
      const r = await s.call('resources/add', { name: 'bad', channels: ['email'], email: { from_email: 'news@shop.example', dkim: bad } });
      assert.equal(r.status, 400, JSON.stringify(bad).slice(0, 100));
      assert.match(r.body.error_text, text);
    }
  });
});
