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
    await listener();
  });

  /** The backend pid of the worker's LISTEN connection, once there is one (other than `not`). */
  const listener = async (not?: number) => {
    const sql = postgres(PG_URL!, { max: 1, onnotice: () => {} });
    try {
      return await eventually(async () => {
        const [row] = await sql`SELECT pid FROM pg_stat_activity WHERE query ILIKE ${`listen%salvo_wake:${schema}%`} AND pid <> pg_backend_pid() AND pid <> ${not ?? 0}`;
        return row?.pid as number | undefined;
      }, 30_000, `the worker to LISTEN (its output: ${workerOut})`);
    } finally {
      await sql.end();
    }
  };

  const launchAndReceive = async (profile: string, to: string) => {
    ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: profile }));
    await eventually(async () => smtp.received.some((m) => m.to.includes(to)), POLL_MS / 3, `the mail to ${to}, sent by the worker process (its output: ${workerOut})`);
  };

  after(async () => {
    worker?.kill('SIGTERM');
    await s?.close();
    await smtp?.close();
  });

  it('a worker elsewhere sends a launch at once, not at its next poll', async () => {
    // The worker polled at start and after its LISTEN; its next poll is POLL_MS away.
    await launchAndReceive(shop.profiles.john, 'john@example.com');
  });

  it('LISTENs again after its connection is cut, and still wakes at once', async () => {
    const pid = await listener();
    const sql = postgres(PG_URL!, { max: 1, onnotice: () => {} });
    try {
      await sql`SELECT pg_terminate_backend(${pid})`;
    } finally {
      await sql.end();
    }
    await listener(pid);
    // The reconnect itself wakes the loops once (what was missed meanwhile): the second launch can only be NOTIFY's.
    await launchAndReceive(shop.profiles.ann, 'ann@example.com');
    await launchAndReceive(shop.profiles.bob, 'bob@example.com');
  });
});
