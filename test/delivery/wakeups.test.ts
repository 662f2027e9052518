/**
 * Wake-ups across processes on PostgreSQL: a `salvo worker` process polling only every 60 s sends a
 * launch another process accepted long before its next poll could find it. Only the NOTIFY the
 * accepting process sends after its commit can explain the pickup.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { driverOf } from '../../src/store/store.ts';
import { ensureBuilt, SALVO_BIN } from '../built.ts';
import { setupShop, type Shop } from '../fixture.ts';
import { eventually, ok, PG_URL, startServer, type TestServer } from '../helpers.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const POLL_MS = 60_000;

describe('wake-ups across processes on postgres', { skip: PG_URL ? false : 'needs SALVO_TEST_PG_URL' }, () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  let worker: ChildProcess;
  let schema: string;
  let workerOut = '';

  before(async () => {
    await ensureBuilt();
    smtp = await startSmtp();
    // The accepting process: the API only, no delivery of its own.
    s = await startServer({ kind: 'postgres', workers: false });
    shop = await setupShop(s);
    schema = (await driverOf(s.app.store).get<{ schema: string }>('SELECT current_schema() AS schema'))!.schema;
    const url = `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}search_path=${schema}`;
    worker = spawn(process.execPath, [SALVO_BIN, 'worker'], {
      env: { ...process.env, SALVO_DATABASE_URL: url, SALVO_SMTP_URL: smtp.url, SALVO_POLL_MS: String(POLL_MS), SALVO_LOG_LEVEL: 'warn' },
    });
    worker.stdout!.on('data', (c) => (workerOut += c));
    worker.stderr!.on('data', (c) => (workerOut += c));
    // The worker LISTENs once its loops start: its listening connection shows the LISTEN in pg_stat_activity.
    const sql = postgres(PG_URL!, { max: 1, onnotice: () => {} });
    try {
      await eventually(async () => {
        const rows = await sql`SELECT 1 FROM pg_stat_activity WHERE query ILIKE ${`listen%salvo_wake:${schema}%`} AND pid <> pg_backend_pid()`;
        return rows.length > 0;
      }, 30_000, `the worker to LISTEN (its output: ${workerOut})`);
    } finally {
      await sql.end();
    }
  });

  after(async () => {
    worker?.kill('SIGTERM');
    await s?.close();
    await smtp?.close();
  });

  it('a worker elsewhere sends a launch at once, not at its next poll', async () => {
    // The worker polled at start and after its LISTEN; its next poll is POLL_MS away.
    ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: shop.profiles.john }));
    await eventually(async () => smtp.received.some((m) => m.to.includes('john@example.com')), POLL_MS / 3, `the mail, sent by the worker process (its output: ${workerOut})`);
  });
});
