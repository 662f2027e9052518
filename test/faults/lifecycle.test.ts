/**
 * Issue 24, item 7: start and stop leak nothing. app.close() closes every part whatever the others do;
 * a createApp that fails part-way closes what it had opened; SqliteDriver.close() refuses the calls
 * queued behind it instead of leaving them waiting for ever; deduplication's timers and retries stop
 * with the app and log through the app's logger.
 */
import assert from 'node:assert/strict';
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import postgres from 'postgres';
import { createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { RequestDedup } from '../../src/engine/dedup.ts';
import { SqliteDriver } from '../../src/store/sqlite/driver.ts';
import { driverOf } from '../../src/store/store.ts';
import { eventually, freshSchema, PG_URL, startServer, tempDir } from '../helpers.ts';
import { assertTiming } from '../timing.ts';
import { holdWriteLock } from './store-helpers.ts';

/** The files under `dir` this process has open (SQLite's database, WAL and shared memory; the checkpoint thread's too). */
const openFilesUnder = (dir: string) =>
  readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      return target.startsWith(dir) ? [target] : [];
    } catch {
      return []; // closed while listed (the listing's own descriptor)
    }
  });

/** Settles within `ms`, or says it did not: a promise left waiting for ever fails the test instead of hanging it. */
const within = <T>(p: Promise<T>, ms: number) =>
  Promise.race([p.then((value) => ({ settled: 'resolved' as const, value }), (error: unknown) => ({ settled: 'rejected' as const, error })), sleep(ms).then(() => ({ settled: 'waiting' as const }))]);

describe('SqliteDriver.close()', () => {
  it('lets the running transaction finish and refuses the writes queued behind it', async () => {
    const tmp = tempDir();
    const db = new SqliteDriver(path.join(tmp.dir, 'x.db'));
    try {
      await db.exec('CREATE TABLE t (v INTEGER)');
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let began!: () => void;
      const running = db.transaction(async (tx) => {
        began();
        await tx.run('INSERT INTO t (v) VALUES (1)');
        await gate;
      });
      await new Promise<void>((resolve) => (began = resolve)); // the first group has begun and holds the connection
      const queued = within(db.run('INSERT INTO t (v) VALUES (2)'), 2000);
      const read = within(db.all('SELECT v FROM t'), 2000);
      const closing = db.close();
      release();
      assert.deepEqual(await within(running, 2000), { settled: 'resolved', value: undefined }, 'the running transaction commits');
      for (const [what, settled] of [['the queued write', queued], ['the queued read', read]] as const) {
        const r = await settled;
        assert.equal(r.settled, 'rejected', `${what} is refused, not left waiting (${r.settled})`);
        assert.match(String((r as { error: Error }).error.message), /the store is unavailable \(the store is closed: Salvo is stopping\)/);
      }
      assert.equal((await within(closing, 2000)).settled, 'resolved');
      const after = await within(db.run('INSERT INTO t (v) VALUES (3)'), 2000);
      assert.equal(after.settled, 'rejected', 'a write after close is refused at once');
    } finally {
      tmp.remove();
    }
  });
});

describe('app.close()', () => {
  it('closes the channels and the store even when a part fails to stop, and says which', async () => {
    const s = await startServer({ workers: true });
    const dir = s.config.dataDir;
    assert.ok(openFilesUnder(dir).length > 0, 'the store is open');
    // Fault injection: one part's stop fails (after stopping its loop, so that this process can end), as a
    // loop whose last store call throws at shutdown would.
    const stop = s.app.webhooks.stop.bind(s.app.webhooks);
    s.app.webhooks.stop = async () => {
      await stop();
      throw new Error('the webhook sender would not stop');
    };
    await assert.rejects(s.app.close(), (e: AggregateError) => {
      assert.match(e.message, /closing the webhook sender failed: the webhook sender would not stop/);
      return true;
    });
    assert.deepEqual(openFilesUnder(dir), [], 'the store is closed all the same');
  });
});

describe('createApp on PostgreSQL', { skip: PG_URL ? false : 'SALVO_TEST_PG_URL is not set' }, () => {
  it('closes the connections it opened when a later step fails', async () => {
    const { schema, drop } = await freshSchema();
    const admin = postgres(PG_URL!, { onnotice: () => {} });
    const role = `salvo_lifecycle_${process.pid}`;
    const base = { PORT: '0', SALVO_DATA_DIR: tempDir().dir, SALVO_LOG_LEVEL: 'silent' } as const;
    try {
      await (await createApp(loadConfig({ ...base, SALVO_DATABASE_URL: PG_URL! }), { searchPath: schema })).close(); // the schema, migrated
      // A role that may read the schema but not write it: the store opens (its migrations are done), and
      // the next step, the link key's write, fails.
      await admin.unsafe(`CREATE ROLE ${role} LOGIN`);
      await admin.unsafe(`GRANT USAGE, CREATE ON SCHEMA ${schema} TO ${role}`);
      await admin.unsafe(`GRANT SELECT ON ALL TABLES IN SCHEMA ${schema} TO ${role}`);
      const url = new URL(PG_URL!);
      url.username = role;
      url.password = '';
      await assert.rejects(createApp(loadConfig({ ...base, SALVO_DATABASE_URL: url.toString() }), { searchPath: schema }), /permission denied/);
      const [{ n }] = await admin`SELECT count(*)::int AS n FROM pg_stat_activity WHERE usename = ${role}`;
      assert.equal(n, 0, 'no connection of the failed start is left open');
    } finally {
      await drop();
      await admin.unsafe(`DROP OWNED BY ${role}`).catch(() => {});
      await admin.unsafe(`DROP ROLE IF EXISTS ${role}`);
      await admin.end();
    }
  });
});

describe('request deduplication', () => {
  it('renews held claims until stopped, then stops its timers and retries, logging through the logger it was given', async () => {
    const s = await startServer();
    const lines: { msg: string }[] = [];
    const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const dedup = new RequestDedup(s.app.store, 24, { log, wake: () => {} });
    const createdAt = async (key: string) =>
      Number((await driverOf(s.app.store).get<{ created_at: number }>('SELECT created_at FROM dedup WHERE key = ?', [key]))?.created_at);
    try {
      dedup.start();
      const held = { scope: 'lifecycle', key: 'held' };
      assert.ok(await dedup.claim(held));
      const first = await createdAt('held');
      await eventually(async () => (await createdAt('held')) > first, 10_000, 'the claim to be renewed');

      // An answer the store will not take (another process holds its write lock) is retried in the background.
      const kept = { scope: 'lifecycle', key: 'kept' };
      assert.ok(await dedup.claim(kept));
      const lock = holdWriteLock(path.join(s.config.dataDir, 'salvo.db'));
      try {
        await eventually(async () => lock.said.includes('locked'), 10_000, 'the lock holder to take the lock');
        await dedup.finish(kept, { status: 200, headers: {}, body: '{}' });
        assert.ok(lines.some((l) => l.msg === 'could not record the answer for deduplication; retrying in the background'), JSON.stringify(lines));
        const started = Date.now();
        await dedup.stop();
        assertTiming('RequestDedup.stop() with a retry pending', Date.now() - started, { targetMs: 500, boundMs: 5000 });
      } finally {
        lock.release();
        await eventually(async () => lock.child.exitCode !== null, 10_000, 'the lock holder to exit');
      }
      assert.equal(dedup.pendingTimers, 0);
      assert.ok(lines.some((l) => l.msg === 'stopping before a deduplication answer was recorded; a repeat of this request may run again'), JSON.stringify(lines));

      // Stopped: the claim still held is no longer renewed.
      const stoppedAt = await createdAt('held');
      await sleep(3_500);
      assert.equal(await createdAt('held'), stoppedAt, 'no renewal after stop');
    } finally {
      await dedup.stop();
      await s.close();
    }
  });
});
