/**
 * The migration that brings existing rows to the `captured` status (SQLite 014_captured, PostgreSQL
 * 015_captured): a message recorded `sent` that has an outbox row was captured and says so now; one
 * sent without an outbox row (SMTP took it) stays `sent`. The migration is run again on a store whose
 * rows are as an older Salvo left them.
 */
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import type { NewMessage } from '../../src/core/types.ts';
import { migrate, migrationsOf } from '../../src/store/migrate.ts';
import { driverOf, type Store } from '../../src/store/store.ts';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers.ts';
import { seedLaunch as seed } from './seed.ts';

const now = 1_700_000_000_000;

for (const kind of STORE_KINDS) {
  describe(`the captured migration on ${kind}`, () => {
    let t: TestStore;
    let store: Store;

    beforeEach(async () => {
      t = await openTestStore(kind);
      store = t.store;
    });
    afterEach(async () => t.close());

    it('makes sent messages with an outbox copy captured, and leaves the others', async () => {
      const { campaign, launch } = await seed(store, now);
      const row = (profile: string): NewMessage => ({
        campaign_id: campaign, profile_id: profile, subscription_id: null, channel: 'email', address: `${profile}@example.com`, status: 'queued', skip_reason: null,
        priority: 0, next_attempt_at: now, overrides: null, custom_data: null, variant: null, template_id: null,
      });
      await store.insertMessages(launch, [row('kept'), row('smtp'), row('failed')], now);
      const ids = Object.fromEntries((await store.listMessages({ launch_id: launch }, null, 10)).map((m) => [m.profile_id, m.id]));
      await store.insertOutboxEntries([{ message_id: ids.kept, channel: 'email', recipient: 'kept@example.com', sender: null, subject: 's', body: 'b', html: null, extra: {}, raw: null }], now);
      const db = driverOf(store);
      // As an older Salvo left them: the captured message recorded as sent, its migration not yet applied.
      await db.run("UPDATE messages SET status = 'sent' WHERE id IN (?, ?)", [ids.kept, ids.smtp]);
      await db.run("UPDATE messages SET status = 'failed' WHERE id = ?", [ids.failed]);
      const captured = migrationsOf(db.dialect).find((m) => m.name.endsWith('_captured'))!;
      assert.equal(captured.name, kind === 'sqlite' ? '014_captured' : '015_captured');
      await db.run('DELETE FROM schema_migrations WHERE version = ?', [captured.version]);

      assert.deepEqual(await migrate(db), [captured.name]);
      assert.equal((await store.getMessage(ids.kept))!.status, 'captured');
      assert.equal((await store.getMessage(ids.smtp))!.status, 'sent');
      assert.equal((await store.getMessage(ids.failed))!.status, 'failed');
    });
  });
}
