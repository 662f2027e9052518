/** The Store contract: the same behaviour from both adapters. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ApiError } from '../../src/core/errors.ts';
import { normalizeProfileData } from '../../src/core/fields.ts';
import { applyProfilePatch, profileKeys } from '../../src/core/profile.ts';
import type { Database, Profile } from '../../src/core/types.ts';
import { migrationsOf } from '../../src/store/migrate.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { freshSchema, openTestStore, PG_URL, STORE_KINDS, tempDir, type TestStore } from '../helpers.ts';

const conflictNamed = (text: RegExp) => (e: unknown) => e instanceof ApiError && e.code === 409 && text.test(e.text);

for (const kind of STORE_KINDS) {
  describe(`Store contract on ${kind}`, () => {
    let t: TestStore;
    let store: Store;
    let db: Database;
    const now = 1_700_000_000_000;

    before(async () => {
      t = await openTestStore(kind);
      store = t.store;
      db = await store.insertDatabase(
        { name: 'main', fields: [{ name: 'CRM_ID', type: 'int', indexed: true }, { name: 'Tags', type: 'tags', indexed: true }, { name: 'City', type: 'string', indexed: false }] },
        now,
      );
    });
    after(async () => t.close());

    const newProfile = (data: Record<string, unknown>): Profile => applyProfilePatch(null, normalizeProfileData(db, data), db.id, now);
    const save = async (p: Profile, before: Profile | null = null) =>
      store.saveProfiles([{ profile: p, isNew: !before, keysAdded: profileKeys(db, p), keysRemoved: before ? profileKeys(db, before) : [] }]);

    it('keeps databases with unique names', async () => {
      assert.deepEqual((await store.getDatabase(db.id))?.fields[0], { name: 'CRM_ID', type: 'int', indexed: true });
      assert.equal(await store.getDatabase(999), null);
      await assert.rejects(store.insertDatabase({ name: 'main', fields: [] }, now), conflictNamed(/database named 'main' already exists/));
      assert.deepEqual((await store.listDatabases()).map((d) => d.name), ['main']);
    });

    it('keeps resources and finds several by id', async () => {
      const r = await store.insertResource({ name: 'shop', channels: ['email', 'sms'], email: { from_email: 'shop@example.com' }, sms: {}, push: null, tracking_domain: null, resource_token: 'contract-resource-token' }, now);
      const found = await store.getResources([r.id, r.id, 12345]);
      assert.equal(found.size, 1);
      assert.deepEqual(found.get(r.id)?.channels, ['email', 'sms']);
      await assert.rejects(store.insertResource({ ...r, name: 'shop' }, now), conflictNamed(/resource named 'shop'/));
    });

    it('finds profiles by id, email, hashes, phones and indexed fields', async () => {
      const p = newProfile({ email: 'john@example.com', phones: ['+79000000001', '+79000000002'], CRM_ID: 42, Tags: ['a', 'b'], City: 'Oslo' });
      await save(p);
      for (const [by, value] of [['id', p.id], ['email', 'john@example.com'], ['md5', 'd4c74594d841139328695756648b6bd6'], ['xxh', '0d1cf76dbb341cda']] as const) {
        assert.deepEqual((await store.findProfiles(db.id, by, [value])).map((x) => x.id), [p.id], by);
      }
      // Several values at once (on PostgreSQL one index probe per value), with a cap.
      const q = newProfile({ email: 'jane@example.com' });
      await save(q);
      const both = ['john@example.com', 'jane@example.com', 'nobody@example.com', 'john@example.com'];
      assert.deepEqual((await store.findProfiles(db.id, 'email', both)).map((x) => x.email).sort(), ['jane@example.com', 'john@example.com']);
      assert.equal((await store.findProfiles(db.id, 'email', both, 1)).length, 1);
      assert.deepEqual(await store.findProfiles(db.id + 1, 'email', both), []);
      assert.deepEqual((await store.findProfiles(db.id, 'id', [p.id, q.id])).map((x) => x.id).sort(), [p.id, q.id].sort());
      assert.deepEqual((await store.findProfiles(db.id, { key: 'Tags' }, ['a', 'b', 'zz'])).map((x) => x.id), [p.id], 'once, though it has two of the values');
      assert.equal((await store.findProfiles(db.id, { key: 'Tags' }, ['a', 'b'], 1)).length, 1);
      assert.deepEqual((await store.findProfiles(db.id, { key: 'phones' }, ['+79000000002'])).map((x) => x.id), [p.id]);
      assert.deepEqual((await store.findProfiles(db.id, { key: 'CRM_ID' }, ['42'])).map((x) => x.id), [p.id]);
      assert.deepEqual(await store.findProfileIdsWithAllKeys(db.id, 'Tags', ['a', 'b']), [p.id]);
      assert.deepEqual(await store.findProfileIdsWithAllKeys(db.id, 'Tags', ['a', 'c']), []);
      assert.deepEqual(await store.findProfiles(db.id + 1, 'email', ['john@example.com']), []);
      const [back] = await store.getProfiles([p.id]);
      assert.deepEqual(back, p);
    });

    it('moves index keys when a profile changes', async () => {
      const p = newProfile({ email: 'move@example.com', CRM_ID: 1, phones: ['+79000000009'] });
      await save(p);
      const changed = applyProfilePatch(p, normalizeProfileData(db, { CRM_ID: 2, phones: [] }), db.id, now + 1);
      await save(changed, p);
      assert.deepEqual(await store.findProfiles(db.id, { key: 'CRM_ID' }, ['1']), []);
      assert.deepEqual((await store.findProfiles(db.id, { key: 'CRM_ID' }, ['2'])).map((x) => x.id), [p.id]);
      assert.deepEqual(await store.findProfiles(db.id, { key: 'phones' }, ['+79000000009']), []);
    });

    it('scans a database in pages and counts it', async () => {
      for (let i = 0; i < 7; i++) await save(newProfile({ email: `scan${i}@example.com` }));
      const total = await store.countProfiles(db.id);
      const seen: string[] = [];
      let after: string | null = null;
      do {
        const page: { profiles: Profile[]; next: string | null } = await store.scanProfiles(db.id, after, 3);
        assert.ok(page.profiles.length <= 3);
        seen.push(...page.profiles.map((p) => p.id));
        after = page.next;
      } while (after !== null);
      assert.equal(seen.length, total);
      assert.equal(new Set(seen).size, total, 'every profile once');
      // A scan may skip, in SQL, rows whose custom field holds none of some values.
      await save(newProfile({ email: 'narvik@example.com', City: 'Narvik' }));
      await save(newProfile({ email: 'bergen@example.com', City: 'Bergen' }));
      const narvik = await store.scanProfiles(db.id, null, 100, { field: 'City', values: ['Narvik', 'Tromsø'] });
      assert.deepEqual(narvik.profiles.map((p) => p.email), ['narvik@example.com']);
      assert.equal(narvik.next, null);
    });

    it('adds and updates subscriptions, best first', async () => {
      const [r] = await store.listResources();
      const p = newProfile({ email: 'subs@example.com' });
      await save(p);
      const base = { profile_id: p.id, db_id: db.id, resource_id: r.id, provider: null, keys: null, extra: null };
      await store.saveSubscriptions(
        [
          { ...base, channel: 'email', address: 'subs@example.com', status: 'subscribed', priority: 1 },
          { ...base, channel: 'email', address: 'other@example.com', status: 'subscribed', priority: 5 },
          { ...base, channel: 'sms', address: '+79000000005', status: 'unsubscribed', priority: 0 },
        ],
        now,
      );
      await store.saveSubscriptions([{ ...base, channel: 'email', address: 'subs@example.com', status: 'suspended', priority: 9 }], now + 1);
      const subs = await store.getSubscriptions([p.id]);
      assert.deepEqual(subs.map((s) => [s.address, s.status, s.priority]), [
        ['subs@example.com', 'suspended', 9],
        ['other@example.com', 'subscribed', 5],
        ['+79000000005', 'unsubscribed', 0],
      ]);
      const found = async (resource: number | null) => (await store.findProfilesBySubscription(db.id, 'email', 'other@example.com', resource)).map((x) => x.id);
      assert.deepEqual(await found(null), [p.id]);
      assert.deepEqual(await found(r.id), [p.id]);
      assert.deepEqual(await found(r.id + 100), []);

      // The same subscriptions, read by what a trigger's matching looks up rather than by profile id.
      const ofMatch = async (value: string, o: Parameters<Store['getSubscriptionsOfMatch']>[2]) =>
        (await store.getSubscriptionsOfMatch(db.id, value, o)).map((s) => s.address);
      const all = subs.map((s) => s.address);
      assert.deepEqual(await ofMatch('subs@example.com', { field: 'email', channel: 'email', resourceId: null }), all, 'by the profile field');
      assert.deepEqual(await ofMatch('other@example.com', { field: 'email', channel: 'email', resourceId: null }), all, 'by a subscription address');
      assert.deepEqual(await ofMatch('other@example.com', { field: null, channel: 'email', resourceId: r.id + 100 }), [], 'of another resource');
      assert.deepEqual(await ofMatch('other@example.com', { field: 'email', channel: null, resourceId: null }), [], 'profile field only');
      assert.deepEqual(await ofMatch(p.id, { field: 'id', channel: null, resourceId: null }), all, 'by profile id');
      assert.deepEqual(await ofMatch('+79000000005', { field: { key: 'phones' }, channel: 'sms', resourceId: null }), all, 'by a phone subscription');
      assert.deepEqual(await ofMatch('nobody@example.com', { field: 'email', channel: 'email', resourceId: null }), []);

      // A trigger reads the profiles and their subscriptions together (one statement on SQLite): the same as the two reads.
      const looks: [string, Parameters<Store['getSubscriptionsOfMatch']>[2]][] = [
        ['subs@example.com', { field: 'email', channel: 'email', resourceId: null }],
        ['other@example.com', { field: 'email', channel: 'email', resourceId: null }],
        ['other@example.com', { field: null, channel: 'email', resourceId: r.id }],
        ['other@example.com', { field: null, channel: 'email', resourceId: r.id + 100 }],
        ['other@example.com', { field: 'email', channel: null, resourceId: null }],
        [p.id, { field: 'id', channel: null, resourceId: null }],
        ['+79000000005', { field: { key: 'phones' }, channel: 'sms', resourceId: null }],
        ['+79000000005', { field: { key: 'phones' }, channel: null, resourceId: null }],
        ['nobody@example.com', { field: 'email', channel: 'email', resourceId: null }],
        ['x', { field: null, channel: null, resourceId: null }],
      ];
      const together = async () => {
        for (const [value, o] of looks) {
          const both = await store.findMatchWithSubscriptions(db.id, value, o);
          assert.deepEqual(both, { profiles: await store.findProfilesOfMatch(db.id, value, o), subscriptions: await store.getSubscriptionsOfMatch(db.id, value, o) }, `${value} ${JSON.stringify(o)}`);
        }
      };
      await together();
      // A second profile: its email is the first one's subscription address (two profiles found), and it
      // holds that address on two resources (found twice by subscription); and one without subscriptions.
      const r2 = await store.insertResource({ name: 'second', channels: ['email'], email: { from_email: 'second@example.com' }, sms: null, push: null, tracking_domain: null, resource_token: 'contract-second-token' }, now);
      const q = newProfile({ email: 'other@example.com', phones: ['+79000000005'] });
      await save(q);
      for (const resource of [r.id, r2.id]) {
        await store.saveSubscriptions([{ ...base, profile_id: q.id, resource_id: resource, channel: 'email', address: 'subs@example.com', status: 'subscribed', priority: 3 }], now);
      }
      await save(newProfile({ email: 'lonely@example.com' }));
      looks.push(['lonely@example.com', { field: 'email', channel: 'email', resourceId: null }], ['subs@example.com', { field: null, channel: 'email', resourceId: null }]);
      await together();
      assert.equal((await store.findMatchWithSubscriptions(db.id, 'other@example.com', { field: 'email', channel: 'email', resourceId: null })).profiles.length, 2);

      // A browser push subscription keeps its keys when a later import changes only its status.
      const keys = { p256dh: 'BP', auth: 'au' };
      const push = { ...base, channel: 'push' as const, address: 'https://push.example/abc', provider: 'Chrome', priority: 0 };
      // So do its custom_fields and cats (Altcraft's subscription object).
      const extra = { custom_fields: { _device_type: 'web' }, cats: ['news'] };
      await store.saveSubscriptions([{ ...push, keys, extra, status: 'subscribed' }], now);
      await store.saveSubscriptions([{ ...push, status: 'unsubscribed' }], now + 2);
      const saved = (await store.getSubscriptions([p.id])).find((s) => s.channel === 'push');
      assert.deepEqual(saved?.extra, extra);
      assert.deepEqual([saved?.keys, saved?.status], [keys, 'unsubscribed']);
    });

    it('keeps templates and campaigns, lists campaigns with a total', async () => {
      const tpl = await store.insertTemplate({ name: 'welcome', channels: { email: { subject: 'Hi', text: 'Hello' } } }, now);
      await store.updateTemplate({ ...tpl, channels: { email: { subject: 'Hey', text: 'Hello' } }, updated_at: now + 5 });
      assert.equal((await store.getTemplate(tpl.id))?.channels.email?.subject, 'Hey');
      await assert.rejects(store.insertTemplate({ name: 'welcome', channels: {} }, now), conflictNamed(/template named 'welcome'/));
      const [r] = await store.listResources();
      const fields = {
        is_active: true, trigger_type: 'api_call' as const, send_channel: 'email' as const, resource_id: r.id, db_id: db.id,
        content: [{ message_id: tpl.id, subject: 'Override' }], skip_minutes: 0, subid: null, unconditional_sending: false, transactional: false,
        attributes: { a: 1 }, content_filter: { kind: 'x' },
      };
      const c1 = await store.insertCampaign({ ...fields, name: 'one', link_key: 'k1' }, now);
      const c2 = await store.insertCampaign({ ...fields, name: 'two', is_active: false, link_key: 'k2' }, now);
      assert.deepEqual((await store.getCampaign(c1.id))?.content, [{ message_id: tpl.id, subject: 'Override' }]);
      assert.equal((await store.getCampaignByLinkKey('k2'))?.id, c2.id);
      await store.updateCampaign({ ...c2, is_active: true, updated_at: now + 9 });
      assert.equal((await store.getCampaign(c2.id))?.is_active, true);
      const page = await store.listCampaigns({ fromId: c2.id, limit: 10, isActive: true });
      assert.deepEqual(page.rows.map((c) => c.id), [c2.id]);
      assert.equal(page.total, 2);
      await assert.rejects(store.insertCampaign({ ...fields, name: 'one', link_key: 'k3' }, now), conflictNamed(/campaign named 'one'/));
      await store.appendCampaignLog(c1.id, 'info', 'first', now);
      await store.appendCampaignLog(c1.id, 'warning', 'second', now + 1);
      assert.deepEqual((await store.listCampaignLog(c1.id, 10)).map((e) => e.message), ['second', 'first']);
    });

    it('keeps token hashes', async () => {
      await store.insertToken('ci', 'h1', now);
      await store.putToken('SALVO_TOKEN', 'h2', now);
      await store.putToken('SALVO_TOKEN', 'h3', now);
      assert.deepEqual((await store.listTokens()).map((t) => [t.name, t.hash]), [['ci', 'h1'], ['SALVO_TOKEN', 'h3']]);
      assert.equal(await store.deleteToken('ci'), true);
      assert.equal(await store.deleteToken('ci'), false);
    });

    it('claims deduplication keys once, answers repeats, and takes over expired or stale claims', async () => {
      const answer = { status: 200, headers: { 'launch-id': '7' }, body: '{"error":0}' };
      assert.deepEqual(await store.claimDedup('tok', 'k1', 1000, 5000, 0), { claimed: true });
      assert.deepEqual(await store.claimDedup('tok', 'k1', 1001, 5001, 0), { claimed: false, answer: null }, 'still running');
      assert.deepEqual(await store.claimDedup('other', 'k1', 1001, 5001, 0), { claimed: true }, 'another caller');
      await store.finishDedup('tok', 'k1', answer);
      assert.deepEqual(await store.claimDedup('tok', 'k1', 1002, 5002, 0), { claimed: false, answer });
      assert.deepEqual(await store.claimDedup('tok', 'k1', 6000, 9000, 0), { claimed: true }, 'expired');
      assert.deepEqual(await store.claimDedup('tok', 'k1', 6500, 9500, 6001), { claimed: true }, 'a claim left pending by a dead process');
      await store.releaseDedup('tok', 'k1');
      assert.deepEqual(await store.claimDedup('tok', 'k1', 7000, 9000, 0), { claimed: true });
      assert.equal(await store.purgeDedup(9001), 2);
    });

    it('rolls a transaction back whole, and a nested one alone', async () => {
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.insertToken('gone', 'g1', now);
          throw new Error('abort');
        }),
        /abort/,
      );
      await store.transaction(async (tx) => {
        await tx.insertToken('kept', 'k1', now);
        await assert.rejects(
          tx.transaction(async (inner) => {
            await inner.insertToken('inner', 'i1', now);
            throw new Error('inner');
          }),
        );
      });
      const names = (await store.listTokens()).map((t) => t.name);
      assert.ok(names.includes('kept'));
      assert.ok(!names.includes('gone') && !names.includes('inner'));
    });

    it('undoes only the failing one of many concurrent transactions', async () => {
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) =>
          store.transaction(async (tx) => {
            await tx.insertToken(`group-${i}`, `g-${i}`, now);
            if (i === 5) throw new Error('five fails');
            return i;
          }),
        ),
      );
      assert.deepEqual(results.map((r) => r.status), [...Array(5).fill('fulfilled'), 'rejected', ...Array(4).fill('fulfilled')]);
      const names = (await store.listTokens()).map((t) => t.name).filter((n) => n.startsWith('group-'));
      assert.deepEqual(names.sort(), ['group-0', 'group-1', 'group-2', 'group-3', 'group-4', 'group-6', 'group-7', 'group-8', 'group-9']);
    });

    it('keeps a write made beside an open transaction out of its rollback', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const tx = store.transaction(async (t2) => {
        await t2.insertToken('in-tx', 'x1', now);
        await gate;
        throw new Error('rollback');
      });
      const beside = store.insertToken('beside', 'x2', now);
      // `beside` was asked for while the transaction is open (above); it rolls back on the next turn.
      setImmediate(release);
      await assert.rejects(tx, /rollback/);
      await beside;
      const names = (await store.listTokens()).map((t) => t.name);
      assert.ok(names.includes('beside'));
      assert.ok(!names.includes('in-tx'));
    });
  });
}

describe('migrations', () => {
  for (const kind of STORE_KINDS) {
    it(`apply each version once on ${kind}`, async () => {
      const target = kind === 'sqlite' ? { dir: tempDir(), schema: undefined } : { dir: null, schema: await freshSchema() };
      const open = () =>
        openStore({ dataDir: target.dir?.dir ?? '', databaseUrl: kind === 'sqlite' ? null : PG_URL, searchPath: target.schema?.schema });
      const first = await open();
      assert.deepEqual(first.migrated, migrationsOf(kind).map((m) => m.name));
      await first.store.insertDatabase({ name: 'survives', fields: [] }, 1);
      await first.store.close();
      const second = await open();
      assert.deepEqual(second.migrated, []);
      assert.deepEqual((await second.store.listDatabases()).map((d) => d.name), ['survives']);
      await second.store.close();
      target.dir?.remove();
      await target.schema?.drop();
    });
  }
});
