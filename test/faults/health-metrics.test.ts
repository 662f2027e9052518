/**
 * Health and metrics that tell the truth: /health answers while the process runs, /ready says 503 and
 * names the part that fails (SMTP unreachable, mailer thread dead), /metrics counts what happened.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';
import { startShop, stopShop, type Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

const get = async (s: TestServer, path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${s.url}${path}`, { headers });
  const text = await res.text();
  return { status: res.status, type: res.headers.get('content-type') ?? '', text, json: () => JSON.parse(text) };
};

/** The value of one sample of the Prometheus text, matched by name and labels (in any order); undefined if absent. */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v) && Object.keys(have).length === Object.keys(labels).length) return Number(m[3]);
  }
  return undefined;
}

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

for (const kind of STORE_KINDS) {
  describe(`health and metrics (${kind})`, () => {
    let smtp: TestSmtp;
    let s: TestServer;
    let shop: Shop;

    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind }));
    });
    after(() => stopShop(s, smtp));

    it('/health and /ready answer 200 on a working server, without a token', async () => {
      const health = await get(s, '/health');
      assert.equal(health.status, 200);
      assert.deepEqual(health.json(), { ok: true });
      const ready = await get(s, '/ready');
      assert.equal(ready.status, 200, ready.text);
      assert.deepEqual(ready.json(), { ready: true, checks: { store: 'ok', mailer_thread: 'ok', smtp: 'ok' } });
    });

    it('/metrics counts sends, their durations, launches, requests, and reads the queue', async () => {
      for (const who of ['john', 'ann', 'bob']) {
        ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: `${who}@example.com`, content: { email_title: 'metrics' } }));
      }
      await smtp.waitFor(3);
      // An outcome is counted when decided, a moment before the store records it: wait for both.
      const metrics = await eventually(async () => {
        const m = await get(s, '/metrics');
        return sample(m.text, 'salvo_messages_total', { channel: 'email', status: 'sent' }) === 3 && sample(m.text, 'salvo_queue_messages', { status: 'sending' }) === 0 && m;
      }, 10_000, 'three sent messages counted and recorded');
      assert.equal(metrics.status, 200);
      assert.match(metrics.type, /^text\/plain; version=0\.0\.4/);
      const text = metrics.text;
      assert.equal(sample(text, 'salvo_send_duration_seconds_count', { channel: 'email' }), 3);
      assert.equal(sample(text, 'salvo_send_duration_seconds_bucket', { channel: 'email', le: '+Inf' }), 3);
      assert.ok(sample(text, 'salvo_send_duration_seconds_sum', { channel: 'email' })! > 0);
      assert.equal(sample(text, 'salvo_launches_total', { kind: 'start' }), 3);
      for (const status of ['queued', 'waiting', 'sending']) assert.equal(sample(text, 'salvo_queue_messages', { status }), 0, status);
      assert.equal(sample(text, 'salvo_queue_oldest_seconds'), 0);
      // By route pattern, not by raw URL.
      assert.equal(sample(text, 'salvo_http_request_duration_seconds_count', { method: 'POST', route: '/api/v1.1/campaigns/triggers/start', status_code: '200' }), 3);
      await get(s, '/no/such/path/123');
      const later = (await get(s, '/metrics')).text;
      assert.equal(sample(later, 'salvo_http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' }), 1);
      assert.equal(sample(text, 'salvo_mailer_thread_restarts_total'), 0);
      assert.equal(sample(text, 'salvo_store_errors_total', { site: 'delivery' }), 0);
      // Process default metrics.
      assert.ok(sample(text, 'process_cpu_user_seconds_total')! > 0);
      assert.ok(sample(text, 'nodejs_heap_size_used_bytes')! > 0);
    });

    it('/metrics counts a failed send and a store failure of the delivery loop', async () => {
      smtp.verdict = () => ({ code: 554, message: 'refused for the test' });
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'refused' } }));
      await eventually(async () => sample((await get(s, '/metrics')).text, 'salvo_messages_total', { channel: 'email', status: 'failed' }) === 1, 10_000, 'the failure counted');
      smtp.verdict = () => null;

      const store = s.app.store as { claimMessages: (...a: unknown[]) => Promise<unknown> };
      const claim = store.claimMessages;
      let failures = 0;
      store.claimMessages = async (...a) => {
        if (failures++ < 2) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
        return claim(...a);
      };
      try {
        await eventually(async () => (sample((await get(s, '/metrics')).text, 'salvo_store_errors_total', { site: 'delivery' }) ?? 0) >= 2, 10_000, 'store errors counted');
      } finally {
        store.claimMessages = claim;
      }
      // And delivery goes on.
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'bob@example.com', content: { email_title: 'after the store failure' } }));
      await eventually(async () => smtp.received.some((r) => r.mail.subject === 'after the store failure'), 10_000, 'a send after the store failures');
    });

    it('/ready names the mailer thread while it is dead, and the restart is counted', async () => {
      const channel = s.app.channels.smtp as unknown as { thread: Worker | null; alive(): boolean };
      const before = sample((await get(s, '/metrics')).text, 'salvo_mailer_thread_restarts_total')!;
      // A thread killed within a second of its start is restarted after a pause (it may be crash-looping):
      // kill one, then its replacement at once, and /ready has that pause to see it dead.
      await channel.thread!.terminate();
      await eventually(async () => channel.alive(), 10_000, 'the first replacement');
      await channel.thread!.terminate();
      const ready = await get(s, '/ready');
      assert.equal(ready.status, 503, ready.text);
      const body = ready.json();
      assert.equal(body.ready, false);
      assert.match(body.checks.mailer_thread, /^dead: restarting after exited with code/);
      assert.equal(body.checks.store, 'ok');
      await eventually(async () => (await get(s, '/ready')).status === 200, 10_000, '/ready 200 once the thread is back');
      assert.equal(sample((await get(s, '/metrics')).text, 'salvo_mailer_thread_restarts_total'), before + 2);
      // It still sends.
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'after the restarts' } }));
      await eventually(async () => smtp.received.some((r) => r.mail.subject === 'after the restarts'), 15_000, 'a send after the restarts');
    });

    it('/openapi.json lists /health, /ready and /metrics, open to all', async () => {
      const spec = (await get(s, '/openapi.json')).json();
      for (const path of ['/health', '/ready', '/metrics']) {
        assert.ok(spec.paths[path]?.get, `${path} in the OpenAPI`);
        assert.deepEqual(spec.paths[path].get.security, [], `${path} needs no token`);
      }
      assert.ok(spec.paths['/ready'].get.responses['503'], '/ready documents its 503');
    });
  });

  describe(`readiness and metrics settings (${kind})`, () => {
    it('/ready answers 503 naming smtp when the SMTP server is unreachable', async () => {
      const port = await deadPort();
      const s = await startServer({ kind, env: { SALVO_SMTP_URL: `smtp://127.0.0.1:${port}` } });
      try {
        const ready = await get(s, '/ready');
        assert.equal(ready.status, 503, ready.text);
        const body = ready.json();
        assert.equal(body.ready, false);
        assert.equal(body.checks.smtp, `unreachable: ECONNREFUSED 127.0.0.1:${port}`);
        assert.equal(body.checks.store, 'ok');
        assert.equal(body.checks.mailer_thread, 'ok');
        assert.equal((await get(s, '/health')).status, 200);
      } finally {
        await s.close();
      }
    });

    it('without SMTP, /ready checks the store only; SALVO_METRICS_TOKEN guards /metrics; queued messages show in the gauges', async () => {
      const token = 'metrics-secret-0123456789';
      const s = await startServer({ kind, env: { SALVO_METRICS_TOKEN: token } });
      try {
        const ready = await get(s, '/ready');
        assert.equal(ready.status, 200);
        assert.deepEqual(ready.json(), { ready: true, checks: { store: 'ok' } });

        const none = await get(s, '/metrics');
        assert.equal(none.status, 401);
        assert.equal(none.json().error, 401);
        const wrong = await get(s, '/metrics', { authorization: 'Bearer not-the-token' });
        assert.equal(wrong.status, 403);
        const shop = await import('../fixture.ts').then((f) => f.setupShop(s));
        // No workers here: the message stays queued.
        ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'queued' } }));
        const right = await get(s, '/metrics', { authorization: `Bearer ${token}` });
        assert.equal(right.status, 200);
        assert.equal(sample(right.text, 'salvo_queue_messages', { status: 'queued' }), 1);
        assert.ok(sample(right.text, 'salvo_queue_oldest_seconds')! >= 0);
        const spec = (await get(s, '/openapi.json')).json();
        assert.equal(spec.paths['/metrics'].get.security, undefined, 'with a token, /metrics is documented as needing one');
      } finally {
        await s.close();
      }
    });
  });
}

describe('readiness while another process holds the SQLite write lock', () => {
  it('/ready answers 503 naming the store within its bound, /health stays 200, and /ready recovers', async (t) => {
    const s = await startServer({ env: { SALVO_STORE_RETRY_MS: '5000' } });
    const script = `
      const db = new (require('better-sqlite3'))(process.argv[1]);
      db.exec('BEGIN IMMEDIATE');
      console.log('locked');
      process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`;
    const holder = spawn(process.execPath, ['-e', script, path.join(s.config.dataDir, 'salvo.db')], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise<void>((resolve) => holder.stdout!.once('data', () => resolve()));
      const started = Date.now();
      const ready = await get(s, '/ready');
      const took = Date.now() - started;
      assert.equal(ready.status, 503, ready.text);
      assert.match(ready.json().checks.store, /^failing: /);
      t.diagnostic(`/ready after ${took} ms: ${ready.text}`);
      assert.ok(took < 4000, `/ready answered after ${took} ms (bound 2 s)`);
      assert.equal((await get(s, '/health')).status, 200);
    } finally {
      holder.stdin!.write('release\n');
    }
    await eventually(async () => (await get(s, '/ready')).status === 200, 15_000, '/ready 200 once the lock is released');
    await s.close();
  });
});
