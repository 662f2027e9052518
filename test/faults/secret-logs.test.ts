/**
 * Provider secrets never reach the log, even when the provider fails: `salvo serve` runs as a child
 * process at debug level against an SMSC that refuses its password, an HTTP gateway that fails and an
 * SMTP server that defers mail signed with a resource's DKIM key, and its whole log is searched for
 * the secrets.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { eventually, tempDir } from '../helpers.ts';
import { startSmsc, type TestSmsc } from '../smsc.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const TOKEN = 'secret-logs-token-0123456789';
const dkimKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
/** The key's lines of base64: any of them in the log is a leak, whatever wraps it. */
const dkimKeyLines = dkimKey.split('\n').filter((l) => l && !l.startsWith('-----'));
const SECRETS = ['pw-s3c', 'apikey-s3cret', 'bearer-s3cret', ...dkimKeyLines];

const tmp = tempDir();
let server: ChildProcess;
let smsc: TestSmsc;
let smtp: TestSmtp;
let gateway: http.Server;
let gatewayHits = 0;
let log = '';
let url = '';

before(async () => {
  smsc = await startSmsc();
  smtp = await startSmtp();
  smtp.verdict = () => ({ code: 451, message: 'try again later' });
  gateway = http.createServer((req, res) => {
    gatewayHits++;
    req.resume();
    res.writeHead(503, { 'retry-after': '0' }).end('busy');
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
  server = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0'], {
    env: { ...process.env, SALVO_DATA_DIR: tmp.dir, SALVO_TOKEN: TOKEN, SALVO_SMTP_URL: smtp.url, SALVO_LOG_LEVEL: 'debug', SALVO_POLL_MS: '50', SALVO_RETRY_BASE_MS: '50', SALVO_RETRY_MAX_MS: '100' },
  });
  server.stdout!.on('data', (c) => (log += c));
  server.stderr!.on('data', (c) => (log += c));
  url = await eventually(async () => /serving the API on (http:\/\/\S+)/.exec(log)?.[1].replace('localhost', '127.0.0.1'), 30_000, 'the server to start');
});
after(async () => {
  server.kill();
  await smsc.close();
  await smtp.close();
  gateway.close();
  tmp.remove();
});

const call = async (method: string, body: Record<string, unknown>) => {
  const r = await fetch(`${url}/api/v1.1/${method}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN, ...body }) });
  const j = (await r.json()) as { error: number; data: { id: number } };
  assert.equal(j.error, 0, JSON.stringify(j));
  return j.data;
};

test('a refused SMPP bind and a failing HTTP gateway log what happened, never a secret', async () => {
  const port = (gateway.address() as AddressInfo).port;
  const db = (await call('databases/add', { name: 'd' })).id;
  const smpp = (await call('resources/add', { name: 'smpp', channels: ['sms'], sms: { smpp: { url: `smpp://salvo:pw-s3c@127.0.0.1:${smsc.port}` } } })).id;
  const web = (
    await call('resources/add', {
      name: 'web',
      channels: ['sms'],
      sms: { http: { url: `http://127.0.0.1:${port}/send?key=apikey-s3cret&to={to}`, headers: { Authorization: 'bearer-s3cret' } } },
    })
  ).id;
  const template = (await call('templates/add', { name: 't', channels: [{ sid: 'sms', fields: { text: 'hi' } }] })).id;
  for (const [i, resource] of [smpp, web].entries()) {
    const phone = `+7900000000${i}`;
    await call('profiles/import', { db_id: db, matching: 'phone', phone, data: { phones: [phone], subscriptions: [{ resource_id: resource, channel: 'sms', phone }] } });
    const campaign = (await call('campaigns/triggers/add', { name: `c${i}`, trigger_type: 'api_call', send_channel: 'sms', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true })).id;
    await call('campaigns/triggers/start', { id: campaign, matching: 'phone', phone });
  }
  await eventually(async () => log.includes('bind_transceiver refused') || log.includes('refused the bind'), 15_000, 'the refused bind logged');
  await eventually(async () => gatewayHits >= 2 && log.includes('HTTP 503'), 15_000, 'the failing gateway logged');
  for (const secret of SECRETS) assert.ok(!log.includes(secret), `${secret} is in the log`);
  assert.ok(smsc.binds === 0, 'the wrong password never bound');
});

test('mail of a resource with a DKIM key, deferred by the SMTP server, never logs the key', async () => {
  const db = (await call('databases/add', { name: 'mail' })).id;
  const resource = (await call('resources/add', { name: 'signed', channels: ['email'], email: { from_email: 'news@shop.example', dkim: { domain: 'shop.example', selector: 's1', private_key: dkimKey } } })).id;
  const template = (await call('templates/add', { name: 'mail', channels: [{ sid: 'email', fields: { subject: 'hi', html: '<p>hi</p>' } }] })).id;
  await call('profiles/import', { db_id: db, matching: 'email', email: 'dora@example.com', data: { email: 'dora@example.com', subscriptions: [{ resource_id: resource, channel: 'email', email: 'dora@example.com' }] } });
  const campaign = (await call('campaigns/triggers/add', { name: 'mail', trigger_type: 'api_call', send_channel: 'email', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true })).id;
  await call('campaigns/triggers/start', { id: campaign, matching: 'email', email: 'dora@example.com' });
  // Two refusals: the first send and a retry, each logged at debug level with whatever went with it.
  await smtp.dataArrived(2);
  await eventually(async () => log.includes('try again later'), 15_000, 'the deferral logged');
  for (const line of dkimKeyLines) assert.ok(!log.includes(line), 'a line of the DKIM key is in the log');
});
