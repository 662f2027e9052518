/** The Store's re-drive, queue statistics and write probe, directly on each adapter. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { HistoryEntry, NewMessage } from '../../src/core/types.ts';
import { driverOf, type Store } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedLaunch as seed } from './seed.ts';

const now = 1_700_000_000_000;


for (const kind of STORE_KINDS) {
  describe(`Store re-drive and queue statistics on ${kind}`, () => {
    let t: TestStore;
    let store: Store;
    let launch: number;
    let campaign: number;

    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
      ({ campaign, launch } = await seed(store, now));
    });
    afterEach(async () => t.close());

    /** One message per status, in this order; failed ones with two attempts and an error. Answers ids by status. */
    async function messages(statuses: NewMessage['status'][]): Promise<number[]> {
      const rows: NewMessage[] = statuses.map((status, i) => ({
        campaign_id: campaign, profile_id: `p${i}`, subscription_id: null, channel: 'email', address: `p${i}@example.com`, status, skip_reason: null,
        priority: 1, next_attempt_at: now - 1000 * i, overrides: null, custom_data: null, variant: null, template_id: null,
      }));
      await store.insertMessages(launch, rows, now);
      const ids = (await store.listMessages({ launch_id: launch }, null, 1000)).map((m) => m.id).sort((a, b) => a - b);
      await driverOf(store).run("UPDATE messages SET attempts = 2, last_error = 'SMTP 554 no' WHERE status = 'failed'");
      return ids;
    }

    it('queues failed messages only, with attempts reset, last_error kept and the history entry appended exactly', async () => {
      const [failed, sent, queued, failed2] = await messages(['failed', 'sent', 'queued', 'failed']);
      const before = await store.getMessage(failed);
      const rawBefore = (await driverOf(store).get<{ history: string }>('SELECT history FROM messages WHERE id = ?', [failed]))!.history;
      const entry: HistoryEntry = { status: 'queued', time: now + 5, detail: 're-driven by messages/retry (token admin)' };

      assert.deepEqual(await store.redriveFailed({ ids: [failed, sent, queued] }, entry, 10_000), { queued: 1, more: false });
      const after = (await store.getMessage(failed))!;
      assert.equal(after.status, 'queued');
      assert.equal(after.attempts, 0);
      assert.equal(after.next_attempt_at, now + 5);
      assert.equal(after.last_error, 'SMTP 554 no');
      assert.deepEqual(after.history, [...before!.history, entry]);
      const rawAfter = (await driverOf(store).get<{ history: string }>('SELECT history FROM messages WHERE id = ?', [failed]))!.history;
      assert.equal(rawAfter, JSON.stringify([...JSON.parse(rawBefore), entry]), 'the stored text is what JSON.stringify would write');
      assert.equal((await store.getMessage(sent))!.status, 'sent');
      assert.equal((await store.getMessage(queued))!.status, 'queued');
      assert.equal((await store.getMessage(failed2))!.status, 'failed');
    });

    it('re-drives a launch or a campaign in bounded steps, lowest ids first', async () => {
      const ids = await messages(['failed', 'failed', 'sent', 'failed']);
      const entry: HistoryEntry = { status: 'queued', time: now, detail: 'x' };
      assert.deepEqual(await store.redriveFailed({ launch_id: launch }, entry, 2), { queued: 2, more: true });
      assert.equal((await store.getMessage(ids[0]))!.status, 'queued');
      assert.equal((await store.getMessage(ids[1]))!.status, 'queued');
      assert.equal((await store.getMessage(ids[3]))!.status, 'failed');
      assert.deepEqual(await store.redriveFailed({ campaign_id: campaign }, entry, 2), { queued: 1, more: false });
      assert.deepEqual(await store.redriveFailed({ campaign_id: campaign + 1 }, entry, 2), { queued: 0, more: false });
    });

    it('counts the queue by status and finds the longest-due queued message; the write probe writes nothing visible', async () => {
      assert.deepEqual(await store.queueStats(), { depth: { queued: 0, waiting: 0, sending: 0 }, oldestDueAt: null });
      await messages(['queued', 'queued', 'waiting', 'sent', 'failed']);
      assert.deepEqual(await store.queueStats(), { depth: { queued: 2, waiting: 1, sending: 0 }, oldestDueAt: now - 1000 });
      const rows = async () => driverOf(store).all('SELECT * FROM schema_migrations ORDER BY version');
      const before = await rows();
      await store.probeWrite();
      assert.deepEqual(await rows(), before);
    });
  });
}
