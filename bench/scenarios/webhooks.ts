/**
 * W. Webhook throughput: N signed events posted to a local HTTP receiver. A launch of N messages
 * (captured in the outbox) writes N message.captured events; once they are in, all N are queued again at
 * once with webhooks/redeliver and timed to the last arrival, so the figure is the sender alone
 * (claim, sign, post, record), not message delivery. Baseline: a raw `fetch` loop posting the same
 * N bodies with the same headers, as many in flight as Salvo's SALVO_WEBHOOK_CONCURRENCY, to the
 * same receiver in the same run. Figure: events per second.
 */
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Figure } from '../lib/report.ts';
import { api, TOKEN } from '../lib/load.ts';
import { startSalvo } from '../lib/server.ts';
import { benchSchema } from '../lib/world.ts';

const CONCURRENCY = 16;
const SECRET = `whsec_${Buffer.alloc(24, 9).toString('base64')}`;

/**
 * A receiver that answers 204 to every POST and counts them, in a thread of its own, so that it does
 * not share an event loop with the baseline's sender (Salvo's sender is in a child process).
 */
async function startReceiver() {
  const counter = new Int32Array(new SharedArrayBuffer(4));
  const code = `
    const http = require('node:http');
    const { workerData, parentPort } = require('node:worker_threads');
    const counter = new Int32Array(workerData);
    const server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => { Atomics.add(counter, 0, 1); res.writeHead(204).end(); });
    });
    server.keepAliveTimeout = 30000;
    server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));`;
  const worker = new Worker(code, { eval: true, workerData: counter.buffer });
  const port = await new Promise<number>((r) => worker.once('message', r));
  const count = () => Atomics.load(counter, 0);
  return {
    url: `http://127.0.0.1:${port}`,
    get count() {
      return count();
    },
    reset: () => Atomics.store(counter, 0, 0),
    /** Resolves true when `n` requests arrived, false after `ms`. */
    async waitFor(n: number, ms: number): Promise<boolean> {
      const deadline = performance.now() + ms;
      while (count() < n) {
        if (performance.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 5));
      }
      return true;
    },
    close: () => worker.terminate(),
  };
}

export async function webhooks(kind: 'sqlite' | 'postgres', pgUrl: string | null, n: number): Promise<Figure[]> {
  const receiver = await startReceiver();
  const body = (i: number) =>
    JSON.stringify({ type: 'message.captured', timestamp: new Date().toISOString(), data: { message_id: i, launch_id: 1, campaign_id: 1, profile_id: 'p', channel: 'email', address: `u${i}@bench.example`, status: 'captured', custom_data: { order: 'A-17' } } });

  // The baseline: a hand-written signed POST loop on fetch, warmed first.
  const post = async (i: number) => {
    const id = `msg_${i}`;
    const ts = Math.floor(Date.now() / 1000);
    const b = body(i);
    const key = Buffer.from(SECRET.slice(6), 'base64');
    const signature = `v1,${createHmac('sha256', key).update(`${id}.${ts}.${b}`).digest('base64')}`;
    const r = await fetch(`${receiver.url}/raw`, { method: 'POST', headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(ts), 'webhook-signature': signature }, body: b });
    await r.arrayBuffer();
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => post(i)));
  receiver.reset();
  const b0 = performance.now();
  let next = 0;
  await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
    for (let i = next++; i < n; i = next++) await post(i);
  }));
  await receiver.waitFor(n, 60_000);
  const baseline = n / ((performance.now() - b0) / 1000);

  receiver.reset();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'salvo-bench-webhooks-'));
  let schema: Awaited<ReturnType<typeof benchSchema>> | null = null;
  const env: Record<string, string> = { SALVO_DATA_DIR: dataDir, SALVO_TOKEN: TOKEN, SALVO_WEBHOOK_CONCURRENCY: String(CONCURRENCY), SALVO_LOG_LEVEL: 'error' };
  if (kind === 'postgres') {
    schema = await benchSchema(pgUrl!, 'salvo_bench_hooks');
    env.SALVO_DATABASE_URL = schema.url;
  }
  const salvo = await startSalvo(env);
  const db = (await api(salvo.url, 'databases/add', { name: 'hooks', fields: [{ name: 'Segment', type: 'int', indexed: true }] })).id;
  const resource = (await api(salvo.url, 'resources/add', { name: 'hooks', channels: ['email'], email: { from_email: 'shop@bench.example' } })).id;
  const template = (await api(salvo.url, 'templates/add', { name: 'hooks', channels: [{ sid: 'email', fields: { subject: 'Order {apicontent.order}', text: 'Paid' } }] })).id;
  const campaign = (await api(salvo.url, 'campaigns/triggers/add', { name: 'hooks', trigger_type: 'api_call', send_channel: 'email', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true })).id;
  const hook = (await api(salvo.url, 'webhooks/add', { url: `${receiver.url}/salvo`, events: ['message.captured'], campaign_ids: [campaign], secret: SECRET })).id;
  for (let from = 0; from < n; from += 1000) {
    const data = Array.from({ length: Math.min(n, from + 1000) - from }, (_, k) => ({ email: `u${from + k}@bench.example`, Segment: 1, subscriptions: [{ resource_id: resource, channel: 'email', email: `u${from + k}@bench.example` }] }));
    await api(salvo.url, 'profiles/import_batch', { db_id: db, data });
  }
  const e0 = performance.now();
  await api(salvo.url, 'campaigns/triggers/start', { id: campaign, custom_request: { Segment: 1 }, content: { order: 'A-17' } });
  const firstDone = await receiver.waitFor(n, 10 * 60_000);
  const endToEnd = receiver.count / ((performance.now() - e0) / 1000);

  const ids: number[] = [];
  for (let cursor: number | undefined; ; ) {
    const page = await api(salvo.url, 'webhooks/deliveries', { id: hook, limit: 1000, ...(cursor ? { cursor } : {}) });
    ids.push(...page.map((d: { id: number }) => d.id));
    if (page.length < 1000) break;
    cursor = page[page.length - 1].id;
  }
  receiver.reset();
  const s0 = performance.now();
  for (let i = 0; i < ids.length; i += 10_000) await api(salvo.url, 'webhooks/redeliver', { id: hook, delivery_ids: ids.slice(i, i + 10_000) });
  const done = await receiver.waitFor(n, 10 * 60_000);
  const rate = receiver.count / ((performance.now() - s0) / 1000);
  await salvo.stop();
  await receiver.close();
  await schema?.drop();
  const ratio = rate / baseline;
  return [
    {
      scenario: 'W',
      store: kind,
      name: `webhook events posted, ${n} queued at once`,
      value: rate,
      unit: 'events/s',
      baseline: { value: baseline, unit: 'events/s', what: `raw fetch loop, signed, ${CONCURRENCY} in flight` },
      ratio,
      target: '>= 0.5 x baseline',
      met: done && firstDone && ratio >= 0.5,
      note: `end to end (launch of ${n} to the outbox, each message.captured posted): ${Math.round(endToEnd)} events/s${done && firstDone ? '' : `; only ${receiver.count} of ${n} arrived`}`,
    },
  ];
}
