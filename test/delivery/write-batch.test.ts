/** WriteBatch: writes that gather while one is on its way share the next; a bad item cannot fail the rest. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StoreUnavailable } from '../../src/core/errors.ts';
import { WriteBatch } from '../../src/delivery/write-batch.ts';

describe('WriteBatch', () => {
  it('writes what is asked in one turn together, what comes during a write in the next, and answers each its own', async () => {
    const writes: number[][] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const batch = new WriteBatch<string, string>(async (items) => {
      writes.push(items.map((i) => i.id));
      if (writes.length === 1) await gate;
      return new Map(items.filter((i) => i.id !== 3).map((i) => [i.id, i.item.toUpperCase()]));
    });
    const first = [batch.add(1, 'a'), batch.add(2, 'b')];
    await new Promise((r) => setImmediate(r));
    const second = [batch.add(3, 'c'), batch.add(4, 'd')];
    release();
    assert.deepEqual(await Promise.all([...first, ...second]), ['A', 'B', undefined, 'D']);
    assert.deepEqual(writes, [[1, 2], [3, 4]]);
  });

  it('tries each item alone after a failure that is not an outage: only the bad one fails', async () => {
    const writes: number[][] = [];
    const batch = new WriteBatch<string, true>(async (items) => {
      writes.push(items.map((i) => i.id));
      if (items.some((i) => i.item === 'bad')) throw new Error('value too long');
      return new Map(items.map((i) => [i.id, true as const]));
    });
    const results = await Promise.allSettled([batch.add(1, 'ok'), batch.add(2, 'bad'), batch.add(3, 'ok')]);
    assert.deepEqual(results.map((r) => r.status), ['fulfilled', 'rejected', 'fulfilled']);
    assert.deepEqual(writes, [[1, 2, 3], [1], [2], [3]]);
  });

  it('fails every item of a batch the store could not take (each caller holds and retries its own)', async () => {
    let calls = 0;
    const batch = new WriteBatch<string, true>(async () => {
      calls++;
      throw new StoreUnavailable('database is locked: SQLITE_BUSY', 2);
    });
    const results = await Promise.allSettled([batch.add(1, 'a'), batch.add(2, 'b')]);
    assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
    assert.equal(calls, 1, 'not tried one by one');
    assert.ok(results.every((r) => r.status === 'rejected' && r.reason instanceof StoreUnavailable));
  });
});
