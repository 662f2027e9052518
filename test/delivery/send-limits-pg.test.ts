/**
 * A resource limited to 20 messages a second sends at 20 a second across two `salvo worker` processes
 * on PostgreSQL (the built CLI, spawned), measured where the mails arrive: a real SMTP server. The API
 * server that takes the launch runs no workers; the two worker processes share only the store. Over the
 * 30 s after a 3 s warm-up the rate must be 20 ± 2 msg/s (each second's count is printed), both
 * processes must have sent, and no message may have been charged more than its one attempt.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { ensureBuilt, SALVO_BIN as BIN } from '../built.ts';
import { ok, PG_URL, startServer, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const RATE = 20;
const WARMUP_MS = 3_000;
const MEASURE_MS = 30_000;
/** Enough for warm-up, the measured 30 s and a tail that keeps both workers busy to its end. */
const MESSAGES = RATE * 40;

describe('a rate limit across two worker processes on PostgreSQL', { skip: PG_URL ? false : 'SALVO_TEST_PG_URL is not set' }, () => {
  const database = `salvo_limits_${process.pid}`;
  const admin = PG_URL ? postgres(PG_URL, { onnotice: () => {} }) : null;
  let dbUrl = '';
  let s: TestServer;
  let smtp: TestSmtp;
  const workers: ChildProcess[] = [];
  const arrivals: number[] = [];

  before(async () => {
    await ensureBuilt();
    // A database of its own (not a schema): the worker processes reach it by URL alone.
    await admin!.unsafe(`CREATE DATABASE ${database}`);
    const u = new URL(PG_URL!);
    u.pathname = `/${database}`;
    dbUrl = u.toString();
    smtp = await startSmtp();
    smtp.verdict = () => {
      arrivals.push(Date.now());
      return null;
    };
    s = await startServer({ workers: false, env: { SALVO_DATABASE_URL: dbUrl, SALVO_SMTP_URL: smtp.url } });
  });

  after(async () => {
    for (const w of workers) w.kill('SIGTERM');
    await Promise.all(workers.map((w) => (w.exitCode === null ? new Promise((r) => w.on('exit', r)) : null)));
    await s?.close();
    await smtp?.close();
    await admin!.unsafe(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    await admin!.end();
  });

  it(`sends ${RATE} msg/s, ± 2, measured at the SMTP server over 30 s`, { timeout: 180_000 }, async () => {
    const db = ok(await s.call('databases/add', { name: 'rate', fields: [{ name: 'Segment', type: 'string', indexed: true }] })).data.id;
    const resource = ok(await s.call('resources/add', { name: 'SES-like', channels: ['email'], email: { from_email: 'news@shop.example', limits: { per_second: RATE } } })).data.id;
    const template = ok(await s.call('templates/add', { name: 'rate', channels: [{ sid: 'email', fields: { subject: 'rate', text: 'hi {lead._fname}' } }] })).data.id;
    const campaign = ok(
      await s.call('campaigns/triggers/add', { name: 'rate', trigger_type: 'api_call', send_channel: 'email', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true }),
    ).data.id;
    const data = Array.from({ length: MESSAGES }, (_, i) => {
      const email = `p${i}@example.com`;
      return { email, _fname: `P${i}`, Segment: 'rate', subscriptions: [{ resource_id: resource, channel: 'email', email }] };
    });
    ok(await s.call('profiles/import_batch', { db_id: db, data }));
    ok(await s.call('campaigns/triggers/start', { id: campaign, custom_request: { Segment: 'rate' } }));

    for (let i = 0; i < 2; i++) {
      workers.push(
        spawn(process.execPath, [BIN, 'worker'], {
          env: { ...process.env, SALVO_DATABASE_URL: dbUrl, SALVO_SMTP_URL: smtp.url, SALVO_POLL_MS: '100', SALVO_LOG_LEVEL: 'warn', SALVO_TOKEN: TEST_TOKEN },
          stdio: ['ignore', 'ignore', 'inherit'],
        }),
      );
    }
    const enough = await smtp.waitFor(MESSAGES, 120_000);
    assert.equal(enough.length, MESSAGES);

    const start = arrivals[0] + WARMUP_MS;
    const perSecond = Array.from({ length: MEASURE_MS / 1000 }, (_, k) => arrivals.filter((t) => t >= start + k * 1000 && t < start + (k + 1) * 1000).length);
    const total = perSecond.reduce((a, b) => a + b, 0);
    const rate = total / (MEASURE_MS / 1000);
    console.log(`${RATE}/s set, two worker processes: ${total} mails in 30 s = ${rate.toFixed(2)} msg/s; per second: ${perSecond.join(' ')}`);
    assert.ok(Math.abs(rate - RATE) <= 2, `observed ${rate.toFixed(2)} msg/s`);

    // Both processes sent, and every message was charged exactly its one attempt.
    const sql = postgres(dbUrl, { onnotice: () => {} });
    try {
      const rows = await sql<{ status: string; attempts: number; history: string }[]>`SELECT status, attempts, history FROM messages`;
      assert.equal(rows.length, MESSAGES);
      assert.ok(rows.every((r) => r.status === 'sent' && r.attempts === 1), 'all sent, each charged one attempt');
      const senders = new Set(rows.map((r) => /attempt 1 by [^:]+:(\d+):/.exec(r.history)?.[1]));
      assert.deepEqual([...senders].sort(), workers.map((w) => String(w.pid)).sort(), 'both worker processes sent');
    } finally {
      await sql.end();
    }
  });
});
