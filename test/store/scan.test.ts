/**
 * Scans of a database's profiles: the SQL that narrows an equality never drops a row MongoDB's
 * equality matches (on both stores), and on PostgreSQL a profile that moves behind the block walk
 * during a scan is still read.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { planAudience } from '../../src/core/audience-plan.ts';
import { normalizeProfileData } from '../../src/core/fields.ts';
import { compileQuery, type MongoQuery } from '../../src/core/mongo-query.ts';
import { applyProfilePatch, profileDocument, profileKeys } from '../../src/core/profile.ts';
import type { Database, Profile } from '../../src/core/types.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { openTestStore, PG_URL, STORE_KINDS, type TestStore } from '../helpers.ts';

type Only = { field: string; values: (string | number | boolean)[] };

/** Every profile a scan returns, page by page (`size` rows a page). */
async function scanAll(store: Store, dbId: number, only: Only | undefined, size: number): Promise<Profile[]> {
  const out: Profile[] = [];
  let at: string | null = null;
  do {
    const page: { profiles: Profile[]; next: string | null } = await store.scanProfiles(dbId, at, size, only);
    assert.ok(page.profiles.length <= size);
    out.push(...page.profiles);
    at = page.next;
  } while (at !== null);
  return out;
}

// Values of every JSON type, stored as they are (written through the store, not the API's checks, so a
// field can hold what an older type or another writer left): the narrowing may not assume the type.
const STORED: unknown[] = [3, 30, 13, '3', [3, 4], [[3]], ['3'], [], null, true, false, [true], 0, 3.5, 'Oslo', 'oslo', ['Oslo'], 'x"y', 'Tromsø', { a: 3 }, 'Group:3'];
const values20 = Array.from({ length: 19 }, (_, i) => `V${i}`);
const QUERIES: MongoQuery[] = [
  { Group: 3 },
  { Group: { $in: [3, 4] } },
  { Group: { $eq: 0 } },
  { Group: 3.5 },
  { Group: '3' },
  { Group: { $in: [...values20.map((_, i) => i + 100), 3] } }, // more values than the text needles take
  { City: 'Oslo' },
  { City: 'x"y' },
  { City: { $in: ['Tromsø', 'Bergen'] } },
  { City: { $in: [...values20, 'Oslo'] } },
  { Flag: true },
  { Flag: false },
  { $and: [{ Group: { $in: [3, 30] } }, { City: { $exists: true } }] },
];

for (const kind of STORE_KINDS) {
  describe(`profile scans narrowed in SQL on ${kind}`, () => {
    let t: TestStore;
    let db: Database;
    const now = 1_700_000_000_000;

    before(async () => {
      t = await openTestStore(kind);
      db = await t.store.insertDatabase(
        { name: 'narrow', fields: [{ name: 'Group', type: 'int', indexed: false }, { name: 'City', type: 'string', indexed: false }, { name: 'Flag', type: 'bool', indexed: false }] },
        now,
      );
      const writes = [];
      for (const [i, v] of STORED.entries()) {
        for (const field of ['Group', 'City', 'Flag']) {
          const p = applyProfilePatch(null, { email: `${field}${i}@example.com`, data: { [field]: v, Other: 3 } }, db.id, now);
          writes.push({ profile: p, isNew: true, keysAdded: profileKeys(db, p), keysRemoved: [] });
        }
      }
      // And profiles without the field at all.
      for (let i = 0; i < 3; i++) {
        const p = applyProfilePatch(null, { email: `none${i}@example.com`, data: { Other: 3 } }, db.id, now);
        writes.push({ profile: p, isNew: true, keysAdded: [], keysRemoved: [] });
      }
      await t.store.saveProfiles(writes);
    });
    after(async () => t.close());

    it('keeps every profile MongoDB equality matches: numbers and strings apart, arrays holding the value, null and missing fields', async () => {
      const all = await scanAll(t.store, db.id, undefined, 7);
      assert.equal(all.length, STORED.length * 3 + 3);
      let narrowed = 0;
      for (const q of QUERIES) {
        const plan = planAudience(q, db);
        assert.ok(plan.kind === 'scan' && plan.only, `${JSON.stringify(q)} is narrowed in SQL`);
        const test = compileQuery(q, 'q');
        const expected = all.filter((p) => test(profileDocument(p))).map((p) => p.email).sort();
        const read = await scanAll(t.store, db.id, plan.only, 4);
        const got = [...new Set(read.filter((p) => test(profileDocument(p))).map((p) => p.email))].sort();
        assert.deepEqual(got, expected, JSON.stringify(q));
        narrowed += all.length - read.length;
      }
      // The cases that matter match something: an array holding the value, the value itself.
      const matches = (q: MongoQuery) => all.filter((p) => compileQuery(q, 'q')(profileDocument(p))).map((p) => p.email).sort();
      assert.deepEqual(matches({ Group: 3 }), ['Group0@example.com', 'Group4@example.com']);
      assert.deepEqual(matches({ City: 'Oslo' }), ['City14@example.com', 'City16@example.com']);
      assert.deepEqual(matches({ Flag: true }), ['Flag11@example.com', 'Flag9@example.com']);
      assert.ok(narrowed > QUERIES.length * 10, `SQL narrowed the rows read (${narrowed} fewer rows in all)`);
    });
  });
}

describe('PostgreSQL scan of profiles updated while it runs', { skip: PG_URL ? false : 'SALVO_TEST_PG_URL not set' }, () => {
  // A database of its own: VACUUM frees a deleted row only once no transaction of the same database
  // could still see it, and other work on the shared test database holds snapshots at any time.
  const name = `salvo_scan_${process.pid}`;
  const admin = () => postgres(PG_URL!, { onnotice: () => {}, max: 1 });
  let store: Store;
  let sql: postgres.Sql;
  let db: Database;
  const now = 1_700_000_000_000;

  before(async () => {
    const a = admin();
    await a.unsafe(`CREATE DATABASE ${name}`);
    await a.end();
    const url = new URL(PG_URL!);
    url.pathname = `/${name}`;
    store = (await openStore({ dataDir: '', databaseUrl: url.toString() })).store;
    sql = postgres(url.toString(), { onnotice: () => {}, max: 1 });
    db = await store.insertDatabase({ name: 'moving', fields: [{ name: 'City', type: 'string', indexed: false }] }, now);
  });
  after(async () => {
    await store.close();
    await sql.end();
    const a = admin();
    await a.unsafe(`DROP DATABASE ${name} WITH (FORCE)`);
    await a.end();
  });

  // About 2 kB a row (incompressible, under the TOAST threshold): four rows fill a block.
  const filler = () => randomBytes(900).toString('hex');
  const blockOf = async (id: string) => Number(/^\((\d+),/.exec((await sql`SELECT ctid::text AS c FROM profiles WHERE id = ${id}`)[0].c)![1]);

  it('reads a profile whose update moved it into a block the walk had passed', async () => {
    const profiles: Profile[] = [];
    for (let i = 0; i < 16; i++) {
      const p = applyProfilePatch(null, normalizeProfileData(db, { email: `m${i}@example.com`, City: filler() }), db.id, now);
      await store.saveProfiles([{ profile: p, isNew: true, keysAdded: [], keysRemoved: [] }]);
      profiles.push(p);
    }
    // Room in the first block only: one of its rows deleted, the space made reusable.
    const first = profiles[0];
    assert.equal(await blockOf(first.id), 0);
    await sql`DELETE FROM profiles WHERE id = ${first.id}`;
    await sql.unsafe('VACUUM profiles');
    const last = profiles[profiles.length - 1];
    const lastBlock = await blockOf(last.id);
    assert.ok(lastBlock >= 3, `the last profile is in block ${lastBlock}`);

    // The walk passes the first block ...
    const page = await store.scanProfiles(db.id, null, 5);
    const seen = page.profiles.map((p) => p.id);
    assert.equal(seen.length, 5);
    // ... and then the last profile is updated: its block is full, so its new version goes back there.
    const moved = applyProfilePatch(last, normalizeProfileData(db, { City: filler() }), db.id, now + 1);
    await store.saveProfiles([{ profile: moved, isNew: false, keysAdded: [], keysRemoved: [] }]);
    assert.equal(await blockOf(last.id), 0, 'the update moved the profile behind the walk');

    const rest = await scanAll2(page.next);
    const byId = new Map([...page.profiles, ...rest].map((p) => [p.id, p]));
    assert.deepEqual([...byId.keys()].sort(), profiles.slice(1).map((p) => p.id).sort(), 'every profile read');
    assert.equal(byId.get(last.id)?.data.City, moved.data.City, 'the moved profile as it is now');
  });

  async function scanAll2(at: string | null): Promise<Profile[]> {
    const out: Profile[] = [];
    while (at !== null) {
      const page: { profiles: Profile[]; next: string | null } = await store.scanProfiles(db.id, at, 5);
      out.push(...page.profiles);
      at = page.next;
    }
    return out;
  }
});
