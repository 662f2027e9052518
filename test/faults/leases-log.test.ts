/**
 * "Leases lost: retaken by another worker" is said only of what another worker (or the lease's expiry)
 * took: a renewal that runs just after this worker's own outcome write committed misses that message,
 * and must not report it retaken. Real stores, the real LeaseKeeper, its log captured.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { FastifyBaseLogger } from 'fastify';
import type { NewMessage } from '../../src/core/types.ts';
import { LeaseKeeper } from '../../src/delivery/leases.ts';
import type { Store } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedLaunch } from '../store/seed.ts';

const now = 1_700_000_000_000;
const LEASE = 60_000;

/** A logger that keeps what is warned. */
function warnings(): { log: FastifyBaseLogger; said: { obj: Record<string, unknown>; msg: string }[] } {
  const said: { obj: Record<string, unknown>; msg: string }[] = [];
  const noop = () => {};
  const log = { warn: (obj: Record<string, unknown>, msg: string) => said.push({ obj, msg }), info: noop, debug: noop, error: noop, trace: noop, fatal: noop, child: () => log, level: 'info', silent: noop };
  return { log: log as unknown as FastifyBaseLogger, said };
}

for (const kind of STORE_KINDS) {
  describe(`lease renewal's log on ${kind}`, () => {
    let t: TestStore;
    let store: Store;
    let launch: number;
    let campaign: number;
    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
      ({ campaign, launch } = await seedLaunch(store, now));
      const rows: NewMessage[] = [1, 2, 3].map((n) => ({
        campaign_id: campaign, profile_id: `p${n}`, subscription_id: null, channel: 'email', address: `p${n}@example.com`, status: 'queued', skip_reason: null,
        priority: 0, next_attempt_at: now, overrides: null, custom_data: null, variant: null, template_id: null,
      }));
      await store.insertMessages(launch, rows, now);
    });
    afterEach(async () => t.close());

    it('names only the message another worker retook, not the one whose outcome this worker just recorded', async () => {
      const [finished, retaken, kept] = (await store.claimMessages('w1', 3, now, now + LEASE)).map((m) => m.id).sort((a, b) => a - b);
      // w1 records its own outcome for `finished` (the write committed; the dispatcher has not yet let go of it).
      assert.equal(await store.completeMessage(finished, 'w1', { status: 'sent', history: [], last_error: null }, now + 10), true);
      // `kept`'s lease is renewed in time; `retaken`'s runs out and w2 takes it.
      await store.renewLeases('w1', [kept], now + 3 * LEASE, now + 5);
      await store.requeueExpired(now + LEASE + 1, 5);
      const taken = await store.claimMessages('w2', 10, now + LEASE + 2, now + 3 * LEASE);
      assert.ok(taken.some((m) => m.id === retaken));
      const { log, said } = warnings();
      let dropped: number[] = [];
      const held = [finished, retaken, kept];
      const keeper = new LeaseKeeper({
        store, worker: 'w1', leaseMs: LEASE, clock: () => now + LEASE + 3, log,
        held: () => held, recording: (id) => id === finished, lost: (ids) => (dropped = [...ids]),
      });
      assert.equal(await keeper.renew(), true);
      const lostLines = said.filter((s) => /leases lost/i.test(s.msg));
      assert.equal(lostLines.length, 1, JSON.stringify(said));
      assert.deepEqual(lostLines[0].obj.messages, [retaken]);
      assert.deepEqual(dropped, [retaken]);
    });
  });
}
