/**
 * The erasure below the API, on each store: a message being sent when its profile is erased is taken
 * from its worker, whose outcome (what was rendered for the person) is then dropped, not written back;
 * the profile's index keys and subscriptions go with it.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { applyProfilePatch, profileKeys } from '../../src/core/profile.ts';
import type { Database } from '../../src/core/types.ts';
import type { Store } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedCampaign } from './seed.ts';

const now = 1_700_000_000_000;

for (const kind of STORE_KINDS) {
  describe(`erasure in the store (${kind})`, () => {
    let t: TestStore;
    let store: Store;

    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
    });
    afterEach(async () => t.close());

    it("takes a message in flight from its worker, whose outcome is dropped; the profile's keys and subscriptions go", async () => {
      const { db: dbId, campaign } = await seedCampaign(store, now);
      const db = (await store.getDatabase(dbId)) as Database;
      const profile = applyProfilePatch(null, { email: 'erin@example.com', phones: ['+79000000009'], data: {} }, dbId, now);
      const keys = profileKeys(db, profile);
      await store.saveProfiles([{ profile, isNew: true, keysAdded: keys, keysRemoved: [] }]);
      const resource = (await store.getCampaign(campaign))!.resource_id;
      await store.saveSubscriptions([{ profile_id: profile.id, db_id: dbId, resource_id: resource, channel: 'email', address: 'erin@example.com', provider: null, keys: null, extra: null, status: 'subscribed', priority: 0 }], now);
      const launch = await store.insertLaunch({ campaign_id: campaign, kind: 'start', state: 'done', content: { title: 'For Erin' }, custom_data: { order: 7 }, audience: null, cursor: null }, now);
      await store.insertMessages(launch.id, [
        { campaign_id: campaign, profile_id: profile.id, subscription_id: null, channel: 'email', address: 'erin@example.com', status: 'queued', skip_reason: null, priority: 0, next_attempt_at: now, overrides: null, custom_data: null, variant: null, template_id: null },
      ], now);
      const [m] = await store.claimMessages('w1', 1, now, now + 60_000);

      const counts = await store.transaction((tx) => tx.eraseProfile({ id: profile.id, db_id: dbId, keys }, now + 1));
      assert.deepEqual(counts, { messages: 1, skipped: 1, launches: 1, outbox: 0, webhookEvents: 0 });

      const outcome = { status: 'sent' as const, history: [...m.history, { status: 'sent' as const, time: now + 2, detail: '250 OK for erin@example.com' }], last_error: null, subject: 'Hi Erin', body: 'Dear Erin',
        sent_copy: { channel: 'email' as const, from: 'shop@example.com', to: 'erin@example.com', reply_to: null, return_path: null, headers: {}, text: 'Dear Erin', dkim: null, attachments: [] },
      };
      assert.deepEqual([...(await store.completeMessages('w1', [{ id: m.id, outcome }], now + 2))], []);
      const after = (await store.getMessage(m.id))!;
      assert.equal(after.status, 'skipped');
      assert.equal(after.skip_reason, 'profile_deleted');
      assert.equal(after.worker, null);
      for (const v of [after.address, after.subject, after.body, after.sent_copy, after.last_error]) assert.equal(v, null, 'the late outcome wrote nothing of what was sent back');
      assert.deepEqual(after.history, [
        { status: 'queued', time: now },
        { status: 'skipped', time: now + 1, detail: 'profile_deleted while being sent: it may have gone out' },
      ]);
      assert.deepEqual((await store.getLaunch(launch.id))!.custom_data, null);
      assert.deepEqual(await store.getProfiles([profile.id]), []);
      assert.deepEqual(await store.findProfiles(dbId, { key: 'phones' }, ['+79000000009']), []);
      assert.deepEqual(await store.getSubscriptions([profile.id]), []);
    });
  });
}
