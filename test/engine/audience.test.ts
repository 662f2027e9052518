/**
 * custom_request audiences: an indexed query reads only its rows; a large audience is expanded in
 * pages in the background, resumes after a restart, and never makes a message twice.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import path from 'node:path';
import pino from 'pino';
import { planAudience } from '../../src/core/audience-plan.ts';
import { normalizeProfileData } from '../../src/core/fields.ts';
import { compileQuery, type MongoQuery } from '../../src/core/mongo-query.ts';
import { applyProfilePatch, profileKeys } from '../../src/core/profile.ts';
import type { Database as Db } from '../../src/core/types.ts';
import { audiencePages, readAudiencePage } from '../../src/engine/audience.ts';
import { Catalog } from '../../src/engine/catalog.ts';
import { Expander } from '../../src/engine/expander.ts';
import { expandStep } from '../../src/engine/expansion.ts';
import { startLaunch, type LaunchDeps } from '../../src/engine/launch.ts';
import { profilesOfMatchQuery, SQLITE_SCAN, subscriptionsOfMatchQuery } from '../../src/store/queries/profiles.ts';
import { matchWithSubscriptionsQuery } from '../../src/store/queries/profile-match.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { eventually, tempDir } from '../helpers.ts';
import { seedCampaign } from '../store/seed.ts';

const N = 100_000;

/** Reads a whole audience page by page; answers the plan, the matches and the rows read. */
async function readAll(store: Store, db: Db, q: MongoQuery) {
  let rowsRead = 0;
  let matched = 0;
  for await (const page of audiencePages(store, db, q, 1000)) {
    rowsRead += page.rowsRead;
    matched += page.profiles.length;
  }
  return { plan: planAudience(q, db), rowsRead, matched };
}

describe('custom_request audiences', () => {
  const tmp = tempDir();
  let store: Store;
  let db: Db;
  let deps: LaunchDeps;
  let campaignId: number;

  before(async () => {
    store = (await openStore({ dataDir: tmp.dir, databaseUrl: null })).store;
    db = await store.insertDatabase({ name: 'big', fields: [{ name: 'Custom_ID', type: 'string', indexed: true }, { name: 'Group', type: 'int', indexed: false }, { name: 'Bucket', type: 'int', indexed: true }] }, 1);
    const now = Date.now();
    await store.transaction(async (tx) => {
      const writes = [];
      for (let i = 0; i < N; i++) {
        const p = applyProfilePatch(null, normalizeProfileData(db, { email: `u${i}@example.com`, Custom_ID: `C${i}`, Group: i % 10, Bucket: i % 40 }), db.id, now);
        writes.push({ profile: p, isNew: true, keysAdded: profileKeys(db, p), keysRemoved: [] });
      }
      await tx.saveProfiles(writes);
    });
    campaignId = (await seedCampaign(store, now, { db: db.id })).campaign;
    deps = { store, catalog: new Catalog(store), wake: () => undefined };
  });
  after(async () => {
    await store.close();
    tmp.remove();
  });

  it(`reads only the matching rows for an $in of 1,000 values on an indexed field (${N} profiles)`, async () => {
    const values = Array.from({ length: 1000 }, (_, i) => `C${i * 97}`);
    const { plan, rowsRead, matched } = await readAll(store, db, { Custom_ID: { $in: values }, Group: { $gte: 0 } });
    assert.equal(plan.kind, 'keys');
    assert.equal(matched, 1000);
    assert.equal(rowsRead, 1000, 'rows read from the store');

    // And SQLite's plan for that lookup searches the side index instead of scanning.
    const raw = new Database(path.join(tmp.dir, 'salvo.db'), { readonly: true });
    const explain = raw
      .prepare(`EXPLAIN QUERY PLAN SELECT DISTINCT p.* FROM profile_keys k JOIN profiles p ON p.id = k.profile_id WHERE k.db_id = ? AND k.field = ? AND k.key IN (?, ?, ?)`)
      .all(db.id, 'Custom_ID', 'C1', 'C2', 'C3') as { detail: string }[];
    raw.close();
    const details = explain.map((r) => r.detail).join(' | ');
    assert.match(details, /SEARCH k USING PRIMARY KEY \(db_id=\? AND field=\? AND key=\?\)/);
    assert.match(details, /SEARCH p USING INDEX sqlite_autoindex_profiles_1 \(id=\?\)/);
    assert.doesNotMatch(details, /SCAN/);
  });

  it('reads by email, _id and hashes through their indexes too', async () => {
    for (const q of [{ email: { $in: ['u1@example.com', 'u2@example.com'] } }, { _id: 'nope' }, { _md5: 'x' }, { $and: [{ Group: 1 }, { email: 'u11@example.com' }] }]) {
      const { plan, rowsRead } = await readAll(store, db, q);
      assert.equal(plan.kind, 'keys', JSON.stringify(q));
      assert.ok(rowsRead <= 2, `${JSON.stringify(q)} read ${rowsRead}`);
    }
  });

  it('reads a value matching many profiles a page at a time', async () => {
    const plan = planAudience({ Bucket: { $in: [3, 5] } }, db);
    const test = compileQuery({ Bucket: { $in: [3, 5] } }, 'q');
    const sizes: number[] = [];
    let cursor: string | null = null;
    do {
      const page = await readAudiencePage(store, db, plan, test, cursor, 1000);
      sizes.push(page.profiles.length);
      cursor = page.next;
    } while (cursor !== null);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 5000);
    assert.ok(Math.max(...sizes) <= 1000, `pages of at most 1000: ${sizes.join(', ')}`);
  });

  for (const [what, query] of [['subscriptions', subscriptionsOfMatchQuery], ['profile', profilesOfMatchQuery]] as const) {
    it(`reads a trigger's ${what} through the email and address indexes, not the whole database`, async () => {
      // The profile and its subscriptions read for a trigger (findProfilesOfMatch, getSubscriptionsOfMatch):
      // a plan that walked the profiles (as a UNION once made SQLite do) cost 25 ms a trigger at 20k profiles.
      const q = query(db.id, 'u5@example.com', { field: 'email', channel: 'email', resourceId: null })!;
      const raw = new Database(path.join(tmp.dir, 'salvo.db'), { readonly: true });
      const details = (raw.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as { detail: string }[]).map((r) => r.detail).join(' | ');
      raw.close();
      assert.match(details, /SEARCH profiles USING INDEX profiles_email \(db_id=\? AND email=\?\)/);
      assert.match(details, /SEARCH subscriptions USING INDEX subscriptions_address \(db_id=\? AND channel=\? AND address=\?\)/);
      assert.doesNotMatch(details, /SCAN|profiles_scan/);
    });
  }

  it("reads a trigger's profile with its subscriptions in one statement: through the indexes, with no temporary table", async () => {
    // findMatchWithSubscriptions on SQLite: each way of finding the profile a branch of a UNION ALL; the
    // statements it replaced gathered the ids in a temporary table (IN (subquery)) and sorted in another.
    const raw = new Database(path.join(tmp.dir, 'salvo.db'), { readonly: true });
    const looks = [
      { field: 'email', channel: 'email', resourceId: null },
      { field: { key: 'phones' }, channel: 'sms', resourceId: null },
      { field: null, channel: 'push', resourceId: null },
      { field: 'id', channel: null, resourceId: null },
    ] as const;
    for (const o of looks) {
      const q = matchWithSubscriptionsQuery(db.id, 'u5@example.com', o)!;
      const details = (raw.prepare(`EXPLAIN QUERY PLAN ${q.sql}`).all(...q.params) as { detail: string }[]).map((r) => r.detail).join(' | ');
      if (o.field === 'email') assert.match(details, /SEARCH p USING INDEX profiles_email \(db_id=\? AND email=\?\)/);
      if (o.channel) assert.match(details, /SEARCH f USING INDEX subscriptions_address \(db_id=\? AND channel=\? AND address=\?\)/);
      assert.match(details, /SEARCH s USING INDEX sqlite_autoindex_subscriptions_1 \(profile_id=\?\)/);
      if (o.field === 'id') assert.match(details, /SEARCH p USING INDEX profiles_scan \(db_id=\? AND id=\?\)/);
      assert.doesNotMatch(details, /SCAN |TEMP B-TREE|LIST SUBQUERY/, JSON.stringify(o));
      const program = (raw.prepare(`EXPLAIN ${q.sql}`).all(...q.params) as { opcode: string }[]).map((r) => r.opcode);
      assert.ok(!program.includes('OpenEphemeral'), `no temporary table: ${JSON.stringify(o)}`);
    }
    raw.close();
  });

  it('scans, a page at a time, when no index pins the query; SQL drops rows an equality cannot match', async () => {
    const equality = await readAll(store, db, { Group: 3 });
    assert.deepEqual(equality.plan, { kind: 'scan', only: { field: 'Group', values: [3] } });
    assert.equal(equality.matched, N / 10);
    assert.equal(equality.rowsRead, N / 10, 'only the rows holding the value are decoded');
    // SQLite walks the table by rowid, with no index and no sort (a sort per page is quadratic).
    const raw = new Database(path.join(tmp.dir, 'salvo.db'), { readonly: true });
    for (const filter of ['', " AND json_extract(data, '$.Group') IN (?)"]) {
      const plan = raw.prepare(`EXPLAIN QUERY PLAN ${SQLITE_SCAN}${filter} ORDER BY rowid LIMIT ?`).all(...(filter ? [1, 0, 3, 10] : [1, 0, 10])) as { detail: string }[];
      assert.deepEqual(plan.map((r) => r.detail), ['SEARCH profiles USING INTEGER PRIMARY KEY (rowid>?)']);
    }
    raw.close();
    const range = await readAll(store, db, { Group: { $gt: 8 } });
    assert.deepEqual(range.plan, { kind: 'scan' });
    assert.equal(range.rowsRead, N);
    assert.equal(range.matched, N / 10);
    // The pre-filter is a superset test: the query still decides, with MongoDB's types.
    assert.equal((await readAll(store, db, { Group: '3' })).matched, 0);
    assert.equal((await readAll(store, db, { Group: { $in: [3, 4] }, Custom_ID: { $regex: '^C1' } })).matched, 2222);
  });

  it('answers before a large audience is expanded, and the background expands it all exactly once', async () => {
    const audience = { Group: { $in: [1, 2] } }; // 20,000 profiles
    const result = await startLaunch(deps, campaignId, { audience: { kind: 'query', query: audience }, filter: null, content: {}, customData: null, attachments: [] });
    assert.equal(result.launch.state, 'expanding', 'the first pages only are expanded before the answer');
    assert.ok(result.launch.total > 0 && result.launch.total < 20_000);

    // One more page by "another process", then a fresh expander (as after a restart) takes over.
    const campaign = (await store.getCampaign(campaignId))!;
    const stepped = await expandStep(deps, (await store.getLaunch(result.launch.id))!, campaign, db);
    assert.ok(stepped && stepped.launch.total > result.launch.total);
    const stale = await expandStep(deps, result.launch, campaign, db);
    assert.equal(stale, null, 'a step from an old cursor is refused');

    const expander = new Expander(deps, { pollMs: 20, leaseMs: 60_000, log: pino({ level: 'silent' }) });
    expander.start();
    const done = await eventually(async () => {
      const l = await store.getLaunch(result.launch.id);
      return l?.state === 'done' && l;
    }, 60_000, 'the launch to be expanded');
    await expander.stop();
    assert.equal(done.total, 20_000);
    const counts = await store.countMessagesByStatus(result.launch.id);
    assert.deepEqual(counts, { skipped: 20_000 }, 'one message per profile (none has a subscription)');
    const log = await store.listCampaignLog(campaignId, 5);
    assert.equal(log[0].message, `launch ${result.launch.id}: custom_request matched 20000 profiles (20000 skipped)`);
  });
});
