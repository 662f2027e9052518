/** The SQLite driver under a held lock and a full disk: answers match what is stored, and nothing blocks. */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { StoreUnavailable } from '../../src/core/errors.ts';
import { driverOf, openStore, type Store } from '../../src/store/store.ts';
import { tempDir } from '../helpers.ts';

const RETRY_MS = 400;
const now = 1_700_000_000_000;

describe('SQLite driver faults', () => {
  const tmp = tempDir();
  let store: Store;
  let other: Database.Database;
  before(async () => {
    store = (await openStore({ dataDir: tmp.dir, databaseUrl: null, retryMs: RETRY_MS })).store;
    other = new Database(path.join(tmp.dir, 'salvo.db'));
  });
  after(async () => {
    other.close();
    await store.close();
    tmp.remove();
  });

  it('waits for a lock held by another connection without blocking, then fails with StoreUnavailable', async () => {
    other.exec('BEGIN IMMEDIATE');
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = Date.now();
    try {
      const write = store.insertToken('locked-out', 'h-locked', now);
      // Reads go on beside a writer (WAL).
      assert.ok(Array.isArray(await store.listTokens()));
      await assert.rejects(write, (e) => e instanceof StoreUnavailable && /database is locked/.test(e.message) && e.retryAfterSeconds > 0);
    } finally {
      clearInterval(timer);
      other.exec('COMMIT');
    }
    const waited = Date.now() - started;
    assert.ok(waited >= RETRY_MS && waited < RETRY_MS + 1000, `waited ${waited} ms`);
    // A synchronous busy wait would have let no timer run.
    assert.ok(ticks >= (waited / 10) * 0.3, `${ticks} timer ticks in ${waited} ms`);
    assert.equal((await store.listTokens()).some((t) => t.name === 'locked-out'), false);
  });

  it('writes asked for while the lock is held commit together once it is let go', async () => {
    other.exec('BEGIN IMMEDIATE');
    const writes = Array.from({ length: 5 }, (_, i) => store.insertToken(`waited-${i}`, `h-waited-${i}`, now));
    // The lock is let go within the retry window: how long it is held is what this test is about.
    setTimeout(() => other.exec('COMMIT'), RETRY_MS / 2);
    await Promise.all(writes);
    assert.equal((await store.listTokens()).filter((t) => t.name.startsWith('waited-')).length, 5);
  });

  it('answers each of a group exactly as stored when the disk fills mid-group', async () => {
    const driver = driverOf(store);
    // Room for a few of the group's transactions, not all. SQLITE_FULL then rolls back the whole
    // transaction, the group's earlier jobs with it: they must not be answered as done.
    const pages = Number((await driver.get<{ page_count: number }>('PRAGMA page_count'))!.page_count);
    await driver.exec(`PRAGMA max_page_count = ${pages + 12}`);
    const big = 'x'.repeat(3000);
    const results = await Promise.allSettled(
      Array.from({ length: 40 }, (_, i) =>
        store.transaction(async (tx) => {
          await tx.insertToken(`full-${i}`, big + i, now);
          await tx.insertToken(`full-${i}-second`, big + i + 's', now);
        }),
      ),
    );
    await driver.exec('PRAGMA max_page_count = 1073741823');
    const failed = results.filter((r) => r.status === 'rejected');
    assert.ok(failed.length > 0, 'the disk filled');
    for (const r of failed) assert.ok((r as PromiseRejectedResult).reason instanceof StoreUnavailable && /SQLITE_FULL/.test((r as PromiseRejectedResult).reason.message));
    const names = new Set((await store.listTokens()).map((t) => t.name));
    results.forEach((r, i) => {
      const stored = [names.has(`full-${i}`), names.has(`full-${i}-second`)];
      assert.deepEqual(stored, r.status === 'fulfilled' ? [true, true] : [false, false], `transaction ${i} ${r.status}`);
    });
    await store.insertToken('after-full', 'h-after', now);
  });
});
