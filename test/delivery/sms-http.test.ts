/**
 * SMS through a generic HTTP gateway, against a node:http receiver: the template variables filled in
 * (JSON-escaped in a JSON body, URL-encoded in the URL), 2xx sent with the answer in the history, 429
 * retried after Retry-After, another 4xx final.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { ok, startServer, type TestServer } from '../helpers.ts';
import { setupSmsShop, type SmsShop } from './sms.ts';

interface Hit {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  at: number;
}

const PHONES = ['+79000000021', '+79000000022', '+79000000023', '+79000000024', '+79000000025', '+79000000026'];
let s: TestServer;
let shop: SmsShop;
let gateway: http.Server;
let base = '';
const hits: Hit[] = [];
/** The status (and headers) the gateway answers a request with; 'hang' answers nothing. */
let answer: (h: Hit) => [number, Record<string, string>?] | 'hang' = () => [200];
const held: http.ServerResponse[] = [];

before(async () => {
  gateway = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const hit = { method: req.method!, url: req.url!, headers: req.headers, body, at: Date.now() };
      hits.push(hit);
      const verdict = answer(hit);
      if (verdict === 'hang') {
        held.push(res);
        return;
      }
      const [status, headers] = verdict;
      res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify({ status: status === 200 ? 'queued' : 'error', id: `gw-${hits.length}` }));
    });
  });
  await new Promise<void>((r) => gateway.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
  s = await startServer({ workers: true });
  shop = await setupSmsShop(
    s,
    { sender: 'SHOP', http: { url: `${base}/send/{to}?from={sender}`, headers: { Authorization: 'Bearer k', 'X-Sender': '{sender}' }, body: '{"to": "{to}", "message": "{text}"}' } },
    PHONES,
  );
});
after(async () => {
  await s.close();
  for (const res of held) res.destroy();
  gateway.close();
});

test('a JSON body gets the text JSON-escaped, the URL the phone URL-encoded; 2xx is sent with the answer', async () => {
  const text = 'Заказ "A-17" готов\nзаберите & {скорее}';
  const id = await shop.start(PHONES[0], { text });
  const m = await shop.message(id);
  assert.equal(m.status, 'sent');
  const hit = hits.find((h) => h.url.startsWith('/send/%2B79000000021'))!;
  assert.equal(hit.method, 'POST');
  assert.equal(hit.url, '/send/%2B79000000021?from=SHOP');
  assert.equal(hit.headers.authorization, 'Bearer k');
  assert.equal(hit.headers['x-sender'], 'SHOP');
  assert.equal(hit.headers['content-type'], 'application/json');
  assert.deepEqual(JSON.parse(hit.body), { to: '+79000000021', message: text });
  assert.match(m.history.at(-1).detail, /answered HTTP 200: \{"status":"queued","id":"gw-\d+"\}/);
});

test('429 with Retry-After is retried no sooner than asked, then sent', async () => {
  let refused = 0;
  answer = (h) => (h.url.includes('79000000022') && refused++ === 0 ? [429, { 'retry-after': '1' }] : [200]);
  const id = await shop.start(PHONES[1], { text: 'later' });
  const m = await shop.message(id, (m) => m.status === 'sent');
  answer = () => [200];
  const tries = hits.filter((h) => h.url.includes('79000000022'));
  assert.equal(tries.length, 2);
  assert.ok(tries[1].at - tries[0].at >= 1000, `retried after ${tries[1].at - tries[0].at} ms`);
  assert.match(m.history.find((h: { status: string }) => h.status === 'waiting').detail, /^HTTP_429: the SMS gateway .* answered HTTP 429/);
});

test('another 4xx fails the message at once', async () => {
  answer = (h) => (h.url.includes('79000000023') ? [400] : [200]);
  const id = await shop.start(PHONES[2], { text: 'bad' });
  const m = await shop.message(id);
  answer = () => [200];
  assert.equal(m.status, 'failed');
  assert.equal(m.attempts, 1);
  assert.match(m.last_error, /^HTTP_400: the SMS gateway .* refused the message: HTTP 400/);
});

test('a GET gateway gets everything in the query string, URL-encoded', async () => {
  ok(await s.call('resources/update', { id: shop.resource, sms: { sender: 'SHOP', http: { url: `${base}/get?to={to}&text={text}&from={sender}`, method: 'GET' } } }));
  const id = await shop.start(PHONES[3], { text: 'a&b=c д' });
  await shop.message(id, (m) => m.status === 'sent');
  const hit = hits.find((h) => h.url.startsWith('/get'))!;
  assert.equal(hit.method, 'GET');
  const q = new URL(hit.url, base).searchParams;
  assert.deepEqual([q.get('to'), q.get('text'), q.get('from')], ['+79000000024', 'a&b=c д', 'SHOP']);
});

test('a gateway that does not answer within timeout_seconds is retried', async () => {
  ok(await s.call('resources/update', { id: shop.resource, sms: { http: { url: `${base}/slow?to={to}`, method: 'GET', timeout_seconds: 1 } } }));
  let hung = 0;
  answer = (h) => (h.url.startsWith('/slow') && hung++ === 0 ? 'hang' : [200]);
  const id = await shop.start(PHONES[4], { text: 'slow' });
  const m = await shop.message(id, (m) => m.status === 'sent');
  answer = () => [200];
  assert.equal(hits.filter((h) => h.url.startsWith('/slow')).length, 2);
  assert.match(m.history.find((h: { status: string }) => h.status === 'waiting').detail, /^HTTP_TIMEOUT: the SMS gateway .* did not answer \(no answer in 1 s\)/);
});

test('a form body gets the values form-encoded', async () => {
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };
  ok(await s.call('resources/update', { id: shop.resource, sms: { sender: 'SHOP', http: { url: `${base}/form`, headers: form, body: 'to={to}&from={sender}&text={text}' } } }));
  await shop.message(await shop.start(PHONES[5], { text: 'a&b=c + д' }), (m) => m.status === 'sent');
  const hit = hits.find((h) => h.url === '/form')!;
  const q = new URLSearchParams(hit.body);
  assert.deepEqual([q.get('to'), q.get('from'), q.get('text')], ['+79000000026', 'SHOP', 'a&b=c + д']);
});
