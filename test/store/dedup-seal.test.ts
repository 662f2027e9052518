/**
 * Deduplication keys claimed by the launch's own write (http/dedup.ts, `start`): the key is looked at
 * first (peekDedup), then claimed and answered by the commit that stores the launch. A request that
 * loses the key writes nothing.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { DuplicateRequest } from '../../src/core/errors.ts';
import type { NewMessage } from '../../src/core/types.ts';
import type { DedupSeal } from '../../src/store/queries/dedup.ts';
import type { NewLaunch } from '../../src/store/queries/launches.ts';
import type { Store } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedCampaign } from './seed.ts';

const now = 1_700_000_000_000;
const BODY = '{"error":0,"error_text":"Successful operation","data":null}';

for (const kind of STORE_KINDS) {
  describe(`deduplication sealed with the launch on ${kind}`, () => {
    let t: TestStore;
    let store: Store;
    let campaign: number;

    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
      ({ campaign } = await seedCampaign(store, now));
    });
    afterEach(async () => t.close());

    const seal = (key: string, at = now, staleBefore = 0): DedupSeal => ({ scope: 'tok', key, status: 200, body: BODY, now: at, expiresAt: at + 3_600_000, staleBefore });
    const newLaunch = (): NewLaunch => ({ campaign_id: campaign, kind: 'start', state: 'done', content: { n: 1 }, custom_data: null, audience: null, cursor: null });
    const message = (profile: string): NewMessage => ({
      campaign_id: campaign, profile_id: profile, subscription_id: null, channel: 'email', address: `${profile}@example.com`, status: 'queued', skip_reason: null,
      priority: 5, next_attempt_at: now, overrides: null, custom_data: null, variant: null, template_id: null,
    });
    const launches = async () => (await store.listLaunches(campaign, null, 100)).length;
    const write = (s: DedupSeal | null, profile = 'p1') => store.insertLaunchWithMessages(newLaunch(), now, [message(profile)], { level: 'info', text: '(start): 1 queued' }, s);

    it('looks at a key without claiming it: free, running, answered; expired and abandoned claims are free', async () => {
      assert.deepEqual(await store.peekDedup('tok', 'k', now, 0), { state: 'free' });
      assert.deepEqual(await store.peekDedup('tok', 'k', now, 0), { state: 'free' }, 'looking claims nothing');
      assert.deepEqual(await store.claimDedup('tok', 'k', now, now + 5000, 0), { claimed: true });
      assert.deepEqual(await store.peekDedup('tok', 'k', now + 1, 0), { state: 'running' });
      assert.deepEqual(await store.peekDedup('tok', 'k', now + 1, now + 1), { state: 'free' }, 'a claim not renewed since staleBefore was abandoned');
      const answer = { status: 404, headers: {}, body: '{"error":404}' };
      await store.finishDedup('tok', 'k', answer);
      assert.deepEqual(await store.peekDedup('tok', 'k', now + 2, now + 2), { state: 'answered', answer });
      assert.deepEqual(await store.peekDedup('tok', 'k', now + 5001, 0), { state: 'free' }, 'expired');
    });

    it('writes the launch, its message, its log line and the answer naming it in one commit', async () => {
      const launch = await write(seal('k1'));
      assert.deepEqual(await store.peekDedup('tok', 'k1', now, 0), { state: 'answered', answer: { status: 200, headers: { 'launch-id': String(launch.id) }, body: BODY } });
      assert.equal((await store.listMessages({ launch_id: launch.id }, null, 10)).length, 1);
      assert.equal(await launches(), 1);
    });

    it('writes nothing when another request holds the key, and answers DuplicateRequest', async () => {
      await write(seal('k2'));
      await assert.rejects(write(seal('k2', now + 1), 'p2'), DuplicateRequest, 'a live answer holds it');
      await store.claimDedup('tok', 'k3', now, now + 5000, 0);
      await assert.rejects(write(seal('k3', now + 1), 'p3'), DuplicateRequest, 'a live claim holds it');
      assert.equal(await launches(), 1, 'no launch written by the losers');
      assert.equal((await store.listMessages({ campaign_id: campaign }, null, 10)).length, 1, 'nor messages');
    });

    it('takes over an expired answer or an abandoned claim', async () => {
      await store.claimDedup('tok', 'k4', now - 20_000, now + 5000, 0);
      const taken = await write(seal('k4', now, now - 15_000));
      assert.deepEqual(await store.peekDedup('tok', 'k4', now, 0), { state: 'answered', answer: { status: 200, headers: { 'launch-id': String(taken.id) }, body: BODY } });
      const later = now + 3_600_001;
      const again = await write(seal('k4', later));
      assert.notEqual(again.id, taken.id);
      assert.equal(await launches(), 2);
    });

    it('keeps a refusal as the answer of a key no one claimed, unless a live one holds it', async () => {
      const refusal = { scope: 'tok', key: 'k5', status: 404, headers: {}, body: '{"error":404}', now, expiresAt: now + 5000, staleBefore: 0 };
      assert.equal(await store.answerDedup(refusal), true);
      assert.equal(await store.answerDedup({ ...refusal, status: 400, body: '{"error":400}' }), false, 'the first answer stands');
      assert.deepEqual(await store.peekDedup('tok', 'k5', now, 0), { state: 'answered', answer: { status: 404, headers: {}, body: '{"error":404}' } });
    });

    it('seals inside a transaction too (a launch with attachments): the loser rolls back', async () => {
      const inTx = (key: string, profile: string) =>
        store.transaction(async (tx) => {
          const l = await tx.insertLaunch(newLaunch(), now, 1);
          await tx.sealDedup(seal(key), l.id);
          await tx.insertMessages(l.id, [message(profile)], now);
          return l;
        });
      await inTx('k6', 'p6');
      await assert.rejects(inTx('k6', 'p7'), DuplicateRequest);
      assert.equal(await launches(), 1);
    });

    it('a claim marked with its launch is answered with it once abandoned, never taken over, and kept after a fault', async () => {
      assert.deepEqual(await store.claimDedup('tok', 'marked', now, now + 3_600_000, 0), { claimed: true });
      const l = await store.insertLaunch(newLaunch(), now);
      await store.markDedupLaunch({ scope: 'tok', key: 'marked', status: 200, body: BODY }, l.id);
      // While its process lives (renewed after staleBefore) it is still running.
      assert.deepEqual(await store.peekDedup('tok', 'marked', now + 1, now - 1), { state: 'running' });
      // Abandoned: the repeat is answered with the launch, and nobody takes the key over.
      const answer = { status: 200, headers: { 'launch-id': String(l.id) }, body: BODY };
      assert.deepEqual(await store.peekDedup('tok', 'marked', now + 20_000, now + 10_000), { state: 'launched', answer, launchId: l.id });
      assert.deepEqual(await store.claimDedup('tok', 'marked', now + 20_000, now + 3_600_000, now + 10_000), { claimed: false, answer: null });
      await assert.rejects(store.sealDedup(seal('marked', now + 20_000, now + 10_000), l.id + 1), DuplicateRequest);
      // A fault after the launch was written keeps the launch's answer rather than letting the key go.
      await store.releaseDedup('tok', 'marked');
      assert.deepEqual(await store.peekDedup('tok', 'marked', now + 20_000, now + 10_000), { state: 'answered', answer });
      // An unmarked claim is let go by a fault, as before.
      assert.deepEqual(await store.claimDedup('tok', 'plain', now, now + 3_600_000, 0), { claimed: true });
      await store.releaseDedup('tok', 'plain');
      assert.deepEqual(await store.peekDedup('tok', 'plain', now, 0), { state: 'free' });
    });
  });
}
