/** The Store as a queue, directly on each adapter: messages, launches and tasks under leases. */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { Message, NewMessage } from '../../src/core/types.ts';
import { fileHash } from '../../src/store/queries/attachment-files.ts';
import { REQUEUE_EXPIRED } from '../../src/store/queries/messages.ts';
import { driverOf, type Store } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedLaunch as seed } from './seed.ts';

const now = 1_700_000_000_000;
const LEASE = 60_000;


for (const kind of STORE_KINDS) {
  describe(`Store queue on ${kind}`, () => {
    let t: TestStore;
    let store: Store;
    let launch: number;
    let campaign: number;
    let n = 0;

    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
      ({ campaign, launch } = await seed(store, now));
    });
    afterEach(async () => t.close());

    /** Queues messages of the given priorities; answers their ids in order. */
    const queue = async (priorities: number[], status: NewMessage['status'] = 'queued', nextAttemptAt = now): Promise<number[]> => {
      const rows: NewMessage[] = priorities.map((priority) => ({
        campaign_id: campaign, profile_id: `p${++n}`, subscription_id: null, channel: 'email', address: `p${n}@example.com`, status, skip_reason: null,
        priority, next_attempt_at: nextAttemptAt, overrides: null, custom_data: null, variant: null, template_id: null,
      }));
      await store.insertMessages(launch, rows, now);
      const listed = await store.listMessages({ launch_id: launch }, null, 1000);
      return listed.filter((m) => rows.some((r) => r.profile_id === m.profile_id)).map((m) => m.id).sort((a, b) => a - b);
    };
    const get = async (id: number) => (await store.getMessage(id))!;
    const sent = (m: Message) => ({ status: 'sent' as const, history: [...m.history, { status: 'sent' as const, time: now }], last_error: null });

    if (kind === 'sqlite') {
      it('finds expired leases through the index of sending messages, not by walking the table', async () => {
        // The upkeep runs this every SALVO_POLL_MS; walking the table cost 12 % of a 100k fan-out's main thread.
        const plan = await driverOf(store).all<{ detail: string }>(`EXPLAIN QUERY PLAN ${REQUEUE_EXPIRED}`, [now]);
        assert.deepEqual(plan.map((r) => r.detail), ['SEARCH messages USING INDEX messages_sending (lease_until<?)']);
      });
    }

    it('claims highest priority first, up to the limit, under a lease, counting the attempt', async () => {
      const [low, high1, high2, mid] = await queue([1, 5, 5, 3]);
      const claimed = await store.claimMessages('w1', 3, now, now + LEASE);
      assert.deepEqual(claimed.map((m) => m.id), [high1, high2, mid]);
      for (const m of claimed) {
        assert.equal(m.status, 'sending');
        assert.equal(m.worker, 'w1');
        assert.equal(m.lease_until, now + LEASE);
        assert.equal(m.attempts, 1);
      }
      assert.equal((await get(low)).status, 'queued');
      assert.deepEqual((await store.claimMessages('w2', 10, now, now + LEASE)).map((m) => m.id), [low]);
      assert.deepEqual(await store.claimMessages('w3', 10, now, now + LEASE), []);
    });

    it('gives each message to one claimer however many claim at once', async () => {
      await queue(Array.from({ length: 20 }, (_, i) => i % 3));
      const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => store.claimMessages(`w${i}`, 4, now, now + LEASE)));
      const ids = claims.flat().map((m) => m.id);
      assert.equal(ids.length, 20);
      assert.equal(new Set(ids).size, 20);
    });

    it('records an outcome only from the holder; a retaken message refuses its old holder', async () => {
      const [id] = await queue([1]);
      const [m] = await store.claimMessages('w1', 1, now, now + LEASE);
      assert.equal(await store.completeMessage(id, 'w2', sent(m), now), false, 'not the holder');
      // w1's lease runs out, the message is queued again and taken by w2.
      assert.deepEqual(await store.requeueExpired(now + LEASE + 1, 5), { requeued: 1, failed: 0 });
      const [again] = await store.claimMessages('w2', 1, now + LEASE + 2, now + 2 * LEASE);
      assert.equal(again.attempts, 2);
      assert.equal(await store.completeMessage(id, 'w1', sent(m), now + LEASE + 3), false, 'a late outcome of the old holder');
      assert.equal(await store.completeMessage(id, 'w2', sent(again), now + LEASE + 4), true);
      const done = await get(id);
      assert.equal(done.status, 'sent');
      assert.equal(done.worker, null);
      assert.equal(done.sent_at, now + LEASE + 4);
      assert.equal(await store.completeMessage(id, 'w2', sent(again), now + LEASE + 5), false, 'recorded once');
    });

    it('records a batch of outcomes: each only if still the holder\'s, each final one with its event, a retry without', async () => {
      const hook = await store.insertWebhook({ url: 'https://hooks.example/x', events: ['*'], campaign_ids: null, secret: 'whsec_x' }, now);
      const [a, b, c, d] = await queue([1, 1, 1, 1]);
      const held = await store.claimMessages('w1', 3, now, now + LEASE);
      await store.claimMessages('w2', 1, now, now + LEASE);
      const m = new Map(held.map((x) => [x.id, x]));
      const recorded = await store.completeMessages('w1', [
        { id: a, outcome: sent(m.get(a)!) },
        { id: b, outcome: { status: 'failed', history: m.get(b)!.history, last_error: 'SMTP 550 no such user', bounced: true } },
        { id: c, outcome: { status: 'waiting', history: m.get(c)!.history, last_error: 'SMTP 451 later', next_attempt_at: now + 5000 } },
        { id: d, outcome: sent(m.get(c)!) },
      ], now + 1);
      assert.deepEqual([...recorded].sort((x, y) => x - y), [a, b, c], "d is w2's");
      assert.deepEqual([(await get(a)).status, (await get(b)).status, (await get(c)).status, (await get(d)).status], ['sent', 'failed', 'waiting', 'sending']);
      assert.equal((await get(c)).next_attempt_at, now + 5000);
      const events = (await store.listWebhookEvents(hook.id, undefined, null, 10)).map((e) => [JSON.parse(e.payload).data.message_id, e.type]);
      assert.deepEqual(events.sort(), [[a, 'message.sent'], [b, 'message.bounced']]);
      assert.equal(JSON.parse((await store.listWebhookEvents(hook.id, undefined, null, 10)).find((e) => e.type === 'message.bounced')!.payload).data.error, 'SMTP 550 no such user');
    });

    it('renews leases of what the worker holds and answers only those', async () => {
      const [a, b, c] = await queue([1, 1, 1]);
      await store.claimMessages('w1', 2, now, now + LEASE);
      const [other] = await store.claimMessages('w2', 1, now, now + LEASE);
      assert.equal(other.id, c);
      const done = await get(b);
      await store.completeMessage(b, 'w1', sent(done), now);
      const held = await store.renewLeases('w1', [a, b, c, 999_999], now + 2 * LEASE, now + 10);
      assert.deepEqual([...held], [a]);
      assert.equal((await get(a)).lease_until, now + 2 * LEASE);
      assert.equal((await get(c)).lease_until, now + LEASE, "another worker's lease is left alone");
      assert.deepEqual(await store.requeueExpired(now + LEASE + 1, 5), { requeued: 1, failed: 0 }, 'only c expired');
      assert.equal((await get(a)).status, 'sending');
    });

    it('requeues expired leases with a history entry, and fails a message at the attempts cap', async () => {
      const [id] = await queue([1]);
      let t0 = now;
      for (let attempt = 1; attempt <= 3; attempt++) {
        const [m] = await store.claimMessages('w', 1, t0, t0 + LEASE);
        assert.equal(m.attempts, attempt);
        assert.deepEqual(await store.requeueExpired(t0 + LEASE - 1, 3), { requeued: 0, failed: 0 }, 'not yet expired');
        const result = await store.requeueExpired(t0 + LEASE + 1, 3);
        assert.deepEqual(result, attempt < 3 ? { requeued: 1, failed: 0 } : { requeued: 0, failed: 1 });
        t0 += LEASE + 2;
      }
      const m = await get(id);
      assert.equal(m.status, 'failed');
      assert.equal(m.attempts, 3);
      assert.match(m.last_error ?? '', /lease expired.*gave up after 3 attempts/);
      const last = m.history.at(-1)!;
      assert.equal(last.status, 'failed');
      assert.match(last.detail ?? '', /gave up after 3 attempts/);
      assert.equal(m.history.filter((h) => h.status === 'queued' && /lease expired/.test(h.detail ?? '')).length, 2);
      assert.deepEqual(await store.claimMessages('w', 1, t0, t0 + LEASE), [], 'a failed message is never claimed again');
    });

    it('reads the launches of a claim, each with whether it has attachments', async () => {
      const other = await store.insertLaunch({ campaign_id: campaign, kind: 'start', state: 'done', content: { title: 'T' }, custom_data: { k: 1 }, audience: null, cursor: null }, now);
      const file = { name: 'a.txt', mime: 'text/plain', data: Buffer.from('a'), sha256: fileHash({ data: Buffer.from('a'), sha256: null }) };
      await store.storeAttachmentFile(file.sha256, file.data, now);
      await store.insertAttachments(other.id, [file], now);
      const got = await store.launchesToSend([launch, other.id, launch, 999_999]);
      const byId = new Map(got.map((l) => [l.launch.id, l]));
      assert.equal(got.length, 2, 'each launch once; one that does not exist is left out');
      assert.equal(byId.get(launch)!.attachments, false);
      assert.equal(byId.get(other.id)!.attachments, true);
      assert.deepEqual(byId.get(other.id)!.launch, await store.getLaunch(other.id), 'the launch as getLaunch reads it');
    });

    it('releases claimed messages with their attempt given back', async () => {
      const [a, b] = await queue([1, 1]);
      await store.claimMessages('w1', 2, now, now + LEASE);
      await store.releaseMessages('w2', [a, b]);
      assert.equal((await get(a)).status, 'sending', "another worker's release changes nothing");
      await store.releaseMessages('w1', [a]);
      const back = await get(a);
      assert.deepEqual([back.status, back.attempts, back.worker, back.lease_until], ['queued', 0, null, null]);
      assert.equal((await get(b)).status, 'sending');
    });

    it('hands back sends in flight with the reason in their history, failing those out of attempts', async () => {
      const [a, b, c] = await queue([1, 1, 1]);
      await store.claimMessages('w1', 2, now, now + LEASE);
      await store.claimMessages('w2', 1, now, now + LEASE);
      const result = await store.handBackMessages('w1', [a, b, c], now + 5, 1, 'shutdown deadline');
      assert.deepEqual(result, { requeued: 0, failed: 2 }, 'one attempt allowed and used');
      assert.equal((await get(c)).status, 'sending', "w2's message is not w1's to hand back");
      const m = await get(a);
      assert.equal(m.history.at(-1)!.detail, 'shutdown deadline (gave up after 1 attempts)');
      const [c2] = await queue([1]);
      await store.claimMessages('w3', 1, now, now + LEASE);
      assert.deepEqual(await store.handBackMessages('w3', [c2], now + 6, 5, 'stopping'), { requeued: 1, failed: 0 });
      const back = await get(c2);
      assert.deepEqual([back.status, back.worker, back.history.at(-1)!.detail], ['queued', null, 'stopping']);
    });

    it('promotes waiting messages when their time comes', async () => {
      const [w] = await queue([1], 'waiting', now + 1000);
      assert.equal(await store.promoteWaiting(now + 999), 0);
      assert.deepEqual(await store.claimMessages('w', 5, now, now + LEASE), [], 'a waiting message is not claimed');
      assert.equal(await store.promoteWaiting(now + 1000), 1);
      assert.equal((await get(w)).status, 'queued');
      assert.deepEqual((await store.claimMessages('w', 5, now + 1000, now + LEASE)).map((m) => m.id), [w]);
    });

    it('lets one expander hold an expanding launch at a time, until its lease runs out or it hands it back', async () => {
      const expanding = { campaign_id: campaign, kind: 'start', state: 'expanding' as const, content: {}, custom_data: null, audience: { q: 1 }, cursor: null };
      const l1 = await store.insertLaunch(expanding, now);
      const l2 = await store.insertLaunch(expanding, now);
      assert.equal((await store.claimExpandingLaunch(now, now + LEASE))?.id, l1.id);
      assert.equal((await store.claimExpandingLaunch(now, now + LEASE))?.id, l2.id);
      assert.equal(await store.claimExpandingLaunch(now, now + LEASE), null);
      assert.equal((await store.claimExpandingLaunch(now + LEASE + 1, now + 2 * LEASE))?.id, l1.id, 'an expired lease is taken over');
      await store.leaseLaunch(l2.id, null);
      assert.equal((await store.claimExpandingLaunch(now + LEASE + 2, now + 2 * LEASE))?.id, l2.id, 'handed back');
      assert.equal(await store.advanceLaunch(l1.id, null, 'c1', 'expanding', 5, now), true);
      assert.equal(await store.advanceLaunch(l1.id, null, 'c2', 'expanding', 5, now), false, 'another expander moved it first');
      assert.equal(await store.advanceLaunch(l1.id, 'c1', null, 'done', 1, now), true);
      assert.equal((await store.getLaunch(l1.id))?.total, 6);
      const claims = await Promise.all([1, 2, 3].map(() => store.claimExpandingLaunch(now + 10 * LEASE, now + 11 * LEASE)));
      assert.deepEqual(claims.filter(Boolean).map((l) => l!.id), [l2.id], 'concurrent claimers: one wins');
    });

    it('lets one runner hold a task at a time, under a lease', async () => {
      const task = await store.insertTask({ kind: 'start_batch', campaign_id: campaign, launch_id: launch, payload: {}, total: 10 }, now);
      const claimed = await store.claimTask(now, now + LEASE);
      assert.equal(claimed?.id, task.id);
      assert.equal(claimed?.state, 'running');
      assert.equal(await store.claimTask(now + 1, now + LEASE), null, 'held');
      assert.equal((await store.claimTask(now + LEASE + 1, now + 2 * LEASE))?.id, task.id, 'a dead runner is taken over');
      const p = { processed: 4, sent: 4, skipped: 0, failed: 0, errors: [] };
      assert.equal(await store.advanceTask(claimed!, 0, p, false, now + LEASE + 2, now + 2 * LEASE), true);
      assert.equal(await store.advanceTask(claimed!, 0, p, false, now + LEASE + 3, now + 2 * LEASE), false, 'the same chunk twice');
      await store.releaseTask(task.id);
      assert.equal((await store.claimTask(now + LEASE + 4, now + 2 * LEASE))?.processed, 4, 'handed back and taken with its progress');
      assert.equal(await store.advanceTask(claimed!, 4, { ...p, processed: 6 }, true, now + LEASE + 5, now + 2 * LEASE), true);
      assert.equal(await store.claimTask(now + 10 * LEASE, now + 11 * LEASE), null, 'a finished task is not claimed');
      const claims = await Promise.all([1, 2, 3].map(async () => store.claimTask(now, now + LEASE)));
      assert.equal(claims.filter(Boolean).length, 0);
      const t2 = await store.insertTask({ kind: 'start_batch', campaign_id: campaign, launch_id: launch, payload: {}, total: 1 }, now);
      const racing = await Promise.all([1, 2, 3].map(async () => store.claimTask(now, now + LEASE)));
      assert.deepEqual(racing.filter(Boolean).map((x) => x!.id), [t2.id], 'concurrent claimers: one wins');
    });
  });
}
