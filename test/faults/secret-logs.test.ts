/**
 * Provider secrets never reach the log, even when the provider fails: `salvo serve` runs as a child
 * process at debug level against an SMSC that refuses its password and an HTTP gateway that fails,
 * and its whole log is searched for the secrets.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { eventually, tempDir } from '../helpers.ts';
import { startSmsc, type TestSmsc } from '../smsc.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const TOKEN = 'secret-logs-token-0123456789';
const SECRETS = ['pw-s3c', 'apikey-s3cret', 'bearer-s3cret'];

const tmp = tempDir();
let server: ChildProcess;
let smsc: TestSmsc;
let gateway: http.Server;
let gatewayHits = 0;
let log = '';
let url = '';

before(async () => {
  smsc = await startSmsc();
  gateway = http.createServer((req, res) => {
    gatewayHits++;
    req.resume();
    res.writeHead(503, { 'retry-after': '0' }).end('busy');
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
  server = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0'], {
    env: { ...process.env, SALVO_DATA_DIR: tmp.dir, SALVO_TOKEN: TOKEN, SALVO_LOG_LEVEL: 'debug', SALVO_POLL_MS: '50', SALVO_RETRY_BASE_MS: '50', SALVO_RETRY_MAX_MS: '100' },
  });
  server.stdout!.on('data', (c) => (log += c));
  server.stderr!.on('data', (c) => (log += c));
  url = await eventually(async () => /serving the API on (http:\/\/\S+)/.exec(log)?.[1].replace('localhost', '127.0.0.1'), 30_000, 'the server to start');
});
after(async () => {
  server.kill();
  await smsc.close();
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
