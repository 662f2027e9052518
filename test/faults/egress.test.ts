/**
 * Issue 24, item 3: one egress policy (SALVO_EGRESS_DENY_PRIVATE) for every URL Salvo connects to
 * because of a setting or an input, and what is kept of a peer's answer. Real HTTP peers on 127.0.0.1
 * (an "internal service" answering its page), the real Web Push service, real stores.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { ok, startServer, type TestServer } from '../helpers.ts';
import { setupSmsShop, type SmsShop } from '../delivery/sms.ts';
import { setupPushShop, vapidKeys } from '../push-fixture.ts';
import { startPushService } from '../push-peers.ts';
import { startSmsc } from '../smsc.ts';

const SECRET = 'INTERNAL-ADMIN-TOKEN-4242';

/** An internal service: answers every request with `body` as `type`, and counts them. */
async function internalService(type: string, body: string): Promise<{ url: string; port: number; hits: number; close: () => Promise<void> }> {
  const t = { url: '', port: 0, hits: 0, close: async () => {} };
  const server = http.createServer((req, res) => {
    t.hits++;
    req.resume();
    res.writeHead(200, { 'content-type': type }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.port = (server.address() as AddressInfo).port;
  t.url = `http://127.0.0.1:${t.port}`;
  t.close = () => new Promise<void>((r) => server.close(() => r()));
  return t;
}

const PAGE = `<!doctype html><html><head><title>Admin</title></head><body><h1>Internal admin</h1><p>token: ${SECRET}</p>${'<p>row</p>'.repeat(100)}</body></html>`;
const JSON_ANSWER = JSON.stringify({ ok: true, id: 'gw-1', note: `${'x'.repeat(200)} ${SECRET}` });

describe('egress policy off (SALVO_PUBLIC_URL unset): an HTML answer', () => {
  let s: TestServer;
  const closers: (() => Promise<void>)[] = [];
  before(async () => {
    s = await startServer({ workers: true });
  });
  after(async () => {
    await s.close();
    for (const c of closers) await c();
  });

  it("keeps an HTML page's status only, never its text", async () => {
    const internal = await internalService('text/html; charset=utf-8', PAGE);
    closers.push(internal.close);
    const shop = await setupSmsShop(s, { http: { url: `${internal.url}/send` } }, ['+79000000101']);
    const m = await shop.message(await shop.start('+79000000101', { text: 'hi' }));
    assert.equal(m.status, 'sent');
    assert.equal(m.history.at(-1).detail, `SMS gateway 127.0.0.1:${internal.port} answered HTTP 200: (a markup page, not kept)`);
    assert.ok(!JSON.stringify(m).includes(SECRET), 'the internal page is not read back');
  });
});

describe('egress policy off: a JSON answer is cut', () => {
  let s: TestServer;
  let internal: Awaited<ReturnType<typeof internalService>>;
  before(async () => {
    s = await startServer({ workers: true });
    internal = await internalService('application/json', JSON_ANSWER);
  });
  after(async () => {
    await s.close();
    await internal.close();
  });

  it('keeps at most 80 characters of it', async () => {
    const shop = await setupSmsShop(s, { http: { url: `${internal.url}/send` } }, ['+79000000102']);
    const m = await shop.message(await shop.start('+79000000102', { text: 'hi' }));
    assert.equal(m.history.at(-1).detail, `SMS gateway 127.0.0.1:${internal.port} answered HTTP 200: ${JSON_ANSWER.slice(0, 80)}…`);
    assert.ok(!JSON.stringify(m).includes(SECRET));
  });
});

describe('egress policy on (SALVO_EGRESS_DENY_PRIVATE=on)', () => {
  let s: TestServer;
  let smsShop: SmsShop;
  let internal: Awaited<ReturnType<typeof internalService>>;
  before(async () => {
    s = await startServer({ workers: true, env: { SALVO_EGRESS_DENY_PRIVATE: 'on' } });
    internal = await internalService('text/html', PAGE);
  });
  after(async () => {
    await s.close();
    await internal.close();
  });

  it('answers 400 naming the field when a resource names a private address, in any of its forms', async () => {
    const port = internal.port;
    const pem = (type: 'rsa' | 'ec') =>
      (type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' })).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const fcm = { project_id: 'p', client_email: 'a@p.iam.gserviceaccount.com', private_key: pem('rsa') };
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ channels: ['sms'], sms: { http: { url: `${internal.url}/send?to={to}` } } }, /^field 'sms\.http\.url': 127\.0\.0\.1 is a private address \(loopback\): refused by SALVO_EGRESS_DENY_PRIVATE$/],
      [{ channels: ['sms'], sms: { http: { url: `http://localhost:${port}/send` } } }, /^field 'sms\.http\.url': localhost resolves to (127\.0\.0\.1|::1), a private address \(loopback\)/],
      [{ channels: ['sms'], sms: { http: { url: `http://[::ffff:127.0.0.1]:${port}/send` } } }, /::ffff:7f00:1 is a private address \(loopback, as the IPv4 address 127\.0\.0\.1 inside it\)/],
      [{ channels: ['sms'], sms: { http: { url: `http://[::127.0.0.1]:${port}/send` } } }, /is a private address \(loopback, as the IPv4 address 127\.0\.0\.1 inside it\)/],
      [{ channels: ['sms'], sms: { http: { url: `http://[64:ff9b::a9fe:a9fe]/latest/meta-data` } } }, /is a private address \(linkLocal, as the IPv4 address 169\.254\.169\.254 inside it\)/],
      [{ channels: ['sms'], sms: { http: { url: `http://[2002:a00:1::]/x` } } }, /is a private address \(private, as the IPv4 address 10\.0\.0\.1 inside it\)/],
      [{ channels: ['sms'], sms: { http: { url: 'http://100.64.1.1/x' } } }, /100\.64\.1\.1 is a private address \(carrierGradeNat\)/],
      [{ channels: ['sms'], sms: { smpp: { url: `smpp://salvo:secret@127.0.0.1:${port}` } } }, /^field 'sms\.smpp\.url': 127\.0\.0\.1 is a private address/],
      [{ channels: ['push'], push: { fcm: { service_account: { ...fcm, token_uri: `http://169.254.169.254/token` } } } }, /^field 'push\.fcm\.service_account\.token_uri': 169\.254\.169\.254 is a private address \(linkLocal\)/],
      [{ channels: ['push'], push: { apns: { key_id: 'K', team_id: 'T', private_key: pem('ec'), topic: 'a.b', endpoint: `http://[fd00::1]:${port}` } } }, /^field 'push\.apns\.endpoint': fd00::1 is a private address \(uniqueLocal\)/],
    ];
    for (const [fields, text] of cases) {
      const r = await s.call('resources/add', { name: 'internal', ...fields });
      assert.equal(r.status, 400, `${JSON.stringify(fields)}: ${JSON.stringify(r.body)}`);
      assert.match(r.body.error_text, text);
    }
    assert.equal(internal.hits, 0);
    // resources/update is checked the same way.
    const id = ok(await s.call('resources/add', { name: 'public', channels: ['sms'], sms: { http: { url: 'https://gw.example.com/send' } } })).data.id;
    const r = await s.call('resources/update', { id, sms: { http: { url: `${internal.url}/send` } } });
    assert.equal(r.status, 400);
    assert.match(r.body.error_text, /^field 'sms\.http\.url': 127\.0\.0\.1 is a private address/);
  });

  it('refuses at send time a name that resolves to a private address (saved before, or rebound since): the message fails for good', async () => {
    smsShop = await setupSmsShop(s, { http: { url: 'https://gw.example.com/send' } }, ['+79000000103', '+79000000104']);
    const shop = smsShop;
    // The resource as it was stored before the policy was turned on, or as its name resolves now (no
    // message of it was sent yet, so no process holds it in its catalog).
    const stored = (await s.app.store.getResource(shop.resource))!;
    await s.app.store.updateResource({ ...stored, sms: { http: { url: `http://localhost:${internal.port}/send` } } });
    const m = await shop.message(await shop.start('+79000000103', { text: 'hi' }));
    assert.equal(m.status, 'failed', JSON.stringify(m.history));
    assert.equal(m.attempts, 1, 'not retried');
    assert.match(m.last_error, /^EGRESS_DENIED: the SMS gateway localhost:\d+ was not contacted: localhost resolves to (127\.0\.0\.1|::1), a private address \(loopback\): refused by SALVO_EGRESS_DENY_PRIVATE/);
    assert.equal(internal.hits, 0, 'the internal service was never contacted');
  });

  it('refuses an SMSC whose name resolves to a private address when the session connects: the message fails for good, nothing binds', async () => {
    const smsc = await startSmsc();
    try {
      // The same shop, its resource now naming an SMSC by a name that resolves to 127.0.0.1.
      const shop = smsShop;
      const stored = (await s.app.store.getResource(shop.resource))!;
      await s.app.store.updateResource({ ...stored, sms: { smpp: { url: smsc.url.replace('127.0.0.1', 'localhost') } } });
      await new Promise((r) => setTimeout(r, 1100)); // the catalog keeps a resource for 1 s
      const m = await shop.message(await shop.start('+79000000104', { text: 'hi' }));
      assert.equal(m.status, 'failed', JSON.stringify(m.history));
      assert.match(m.last_error, /^EGRESS_DENIED: the SMSC of resource \d+: salvo@localhost:\d+ was not contacted: localhost resolves to (127\.0\.0\.1|::1), a private address \(loopback\): refused by SALVO_EGRESS_DENY_PRIVATE/);
      assert.equal(smsc.binds, 0);
    } finally {
      await smsc.close();
    }
  });

  it('refuses a Web Push subscription endpoint on a private address when the push is sent', async () => {
    const keys = vapidKeys();
    const service = await startPushService(keys.vapid_public_key, 'mailto:ops@shop.example');
    try {
      const shop = await setupPushShop(s, { webpush: { ...keys, subject: 'mailto:ops@shop.example' } });
      const b = service.browser('b1');
      const m = await shop.settled(await shop.launch(await shop.person([{ provider: 'Chrome', subscription_id: b.endpoint, keys: b.keys }])));
      assert.equal(m.status, 'failed');
      assert.match(String(m.last_error), /^EGRESS_DENIED: the push service at 127\.0\.0\.1:\d+ was not contacted: 127\.0\.0\.1 is a private address \(loopback\)/);
      assert.equal(service.requests.size, 0);
    } finally {
      await service.close();
    }
  });
});

describe('the egress policy setting', () => {
  const base = { SALVO_DATA_DIR: '/tmp/salvo-egress-config' };
  const policy = (env: Record<string, string>) => loadConfig({ ...base, ...env }).egress;

  it('is on by default when SALVO_PUBLIC_URL is public, off when unset or local; set, it wins; the old name still works', () => {
    assert.equal(policy({}).denyPrivate, false);
    assert.equal(policy({ SALVO_PUBLIC_URL: 'http://localhost:8080' }).denyPrivate, false);
    assert.equal(policy({ SALVO_PUBLIC_URL: 'http://10.1.2.3' }).denyPrivate, false);
    assert.equal(policy({ SALVO_PUBLIC_URL: 'https://salvo.internal' }).denyPrivate, false);
    assert.equal(policy({ SALVO_PUBLIC_URL: 'https://trk.example.com' }).denyPrivate, true);
    assert.equal(policy({ SALVO_PUBLIC_URL: 'https://trk.example.com', SALVO_EGRESS_DENY_PRIVATE: 'off' }).denyPrivate, false);
    assert.equal(policy({ SALVO_EGRESS_DENY_PRIVATE: 'on' }).denyPrivate, true);
    const alias = policy({ SALVO_WEBHOOK_DENY_PRIVATE: 'true' });
    assert.deepEqual([alias.denyPrivate, alias.deprecatedAlias], [true, true]);
    assert.equal(policy({ SALVO_WEBHOOK_DENY_PRIVATE: 'true', SALVO_EGRESS_DENY_PRIVATE: 'off' }).denyPrivate, false);
  });
});
