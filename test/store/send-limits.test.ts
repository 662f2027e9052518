/**
 * The sending limits' shared state on both stores: pacing slots one interval apart and refused beyond
 * the horizon, a relay's back-off (5 s, doubling only when repeated after it ended), and per-domain
 * connection slots that never exceed their number, even when many takers race (on PostgreSQL through
 * separate connections), and that a dead holder frees when its lease ends.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/store.ts';
import { freshSchema, openTestStore, PG_URL, STORE_KINDS, type TestStore } from '../helpers.ts';

const now = 1_700_000_000_000;

for (const kind of STORE_KINDS) {
  describe(`sending limits' state on ${kind}`, () => {
    let t: TestStore;
    let store: Store;
    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
    });
    afterEach(async () => t.close());

    it('hands out pacing slots one interval apart and refuses those beyond the horizon', async () => {
      const slots = [];
      for (let i = 0; i < 5; i++) slots.push(await store.reserveSendSlot('1:email', 333.3, now, 1000));
      assert.deepEqual(slots.slice(0, 4).map((r) => r.reserved), [true, true, true, true]);
      assert.deepEqual(slots.slice(0, 4).map((r) => Math.round(r.at - now)), [0, 333, 667, 1000]);
      assert.deepEqual({ ...slots[4], at: Math.round(slots[4].at - now) }, { reserved: false, at: 1333, backoffUntil: null });
      // Later on, an idle resource's next slot is now again (no credit for the idle time: no burst).
      const later = await store.reserveSendSlot('1:email', 333.3, now + 60_000, 1000);
      assert.deepEqual(later, { reserved: true, at: now + 60_000, backoffUntil: null });
      // Another key is paced on its own.
      assert.deepEqual(await store.reserveSendSlot('2:email', 1000, now, 0), { reserved: true, at: now, backoffUntil: null });
    });

    it('backs off 5 s after a 421, keeps that while it lasts, and doubles when the relay says it again right after', async () => {
      assert.equal(await store.backOffSending('1:email', now), now + 5_000);
      assert.equal(await store.backOffSending('1:email', now + 100), now + 5_000, 'a reply during the back-off keeps it');
      const held = await store.reserveSendSlot('1:email', 50, now + 200, 2000);
      assert.deepEqual(held, { reserved: false, at: now + 5_000, backoffUntil: now + 5_000 });
      assert.deepEqual([...(await store.pacedKeys(now + 200))], [['1:email', now + 5_000]]);
      // Within reach, the slot is the back-off's end, and says so.
      assert.deepEqual(await store.reserveSendSlot('1:email', 50, now + 200, 600_000), { reserved: true, at: now + 5_000, backoffUntil: now + 5_000 });
      assert.equal(await store.backOffSending('1:email', now + 6_000), now + 16_000, 'doubled: 10 s');
      // The slot handed out above (5 050) is before the new back-off's end: the next one is after it.
      assert.deepEqual(await store.reserveSendSlot('1:email', 50, now + 6_000, 600_000), { reserved: true, at: now + 16_000, backoffUntil: now + 16_000 });
      assert.equal(await store.backOffSending('1:email', now + 100_000), now + 105_000, 'long after: 5 s again');
      assert.deepEqual(await store.reserveSendSlot('1:email', 50, now + 105_000, 2000), { reserved: true, at: now + 105_000, backoffUntil: null });
    });

    it('gives at most `max` connection slots of a domain, frees them on release, and those of a dead holder when their lease ends', async () => {
      const a = await store.acquireSendSlot('1:email:example.com', 2, 'w:1', now, now + 1000);
      const b = await store.acquireSendSlot('1:email:example.com', 2, 'w:2', now, now + 1000);
      assert.deepEqual([a, b], [0, 1]);
      assert.equal(await store.acquireSendSlot('1:email:example.com', 2, 'w:3', now, now + 1000), null);
      assert.equal(await store.acquireSendSlot('1:email:other.example', 2, 'w:3', now, now + 1000), 0, 'another domain has its own');
      await store.releaseSendSlot('1:email:example.com', 0, 'w:2'); // not its holder: nothing happens
      assert.equal(await store.acquireSendSlot('1:email:example.com', 2, 'w:3', now, now + 1000), null);
      await store.releaseSendSlot('1:email:example.com', 0, 'w:1');
      assert.equal(await store.acquireSendSlot('1:email:example.com', 2, 'w:3', now, now + 5000), 0);
      // w:2 died holding slot 1: after its lease it is free again.
      assert.equal(await store.acquireSendSlot('1:email:example.com', 2, 'w:4', now + 500, now + 1500), null);
      assert.equal(await store.acquireSendSlot('1:email:example.com', 2, 'w:4', now + 1001, now + 2000), 1);
    });
  });
}

describe('sending limits across PostgreSQL connections', { skip: PG_URL ? false : 'SALVO_TEST_PG_URL is not set' }, () => {
  it('never gives more connection slots than the limit, nor the same pacing slot twice, to takers racing on separate connections', async () => {
    const { schema, drop } = await freshSchema();
    const stores: Store[] = [];
    // One after another: the first migrates the schema.
    for (let i = 0; i < 4; i++) stores.push((await openStore({ dataDir: '', databaseUrl: PG_URL, searchPath: schema })).store);
    try {
      const takers = Array.from({ length: 40 }, (_, i) => stores[i % 4].acquireSendSlot('9:email:example.com', 3, `w:${i}`, now, now + 10_000));
      const got = (await Promise.all(takers)).filter((s) => s !== null);
      assert.deepEqual(got.sort(), [0, 1, 2]);
      const reservations = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % 4].reserveSendSlot('9:email', 10, now, 1_000)));
      const at = reservations.filter((r) => r.reserved).map((r) => r.at - now).sort((x, y) => x - y);
      assert.deepEqual(at, Array.from({ length: 40 }, (_, i) => i * 10), 'forty distinct slots, 10 ms apart');
    } finally {
      for (const s of stores) await s.close();
      await drop();
    }
  });
});
