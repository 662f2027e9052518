/** Profiles, their side-index keys and their subscriptions. */
import type { StoredSubscriptionWrite } from '../../core/subscriptions.ts';
import type { Profile, Subscription } from '../../core/types.ts';
import { PROFILE_DATABASE_LOCK_CLASS } from '../advisory-locks.ts';
import { chunks, placeholders, type Param, type Row, type SqlDriver } from '../driver.ts';
import { saveProfiles, saveSubscriptions, type ProfileWrite } from './profile-writes.ts';
import { scanPostgres, type ScanFilter } from './pg-scan.ts';
import { json } from './rows.ts';

/** How profiles are looked up: a column of the profile row, or a field of the side index. */
export type ProfileLookup = 'id' | 'email' | 'md5' | 'xxh' | { key: string };

export const COLUMNS = { id: 'id', email: 'email', md5: 'md5', xxh: 'xxh' } as const;

export const toProfile = (r: Row): Profile => ({
  id: r.id as string,
  db_id: r.db_id as number,
  email: (r.email as string | null) ?? null,
  phones: json(r.phones),
  status: r.status as Profile['status'],
  md5: (r.md5 as string | null) ?? null,
  xxh: (r.xxh as string | null) ?? null,
  data: json(r.data),
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
});

export const toSubscription = (r: Row): Subscription => ({
  id: r.id as number,
  profile_id: r.profile_id as string,
  db_id: r.db_id as number,
  resource_id: r.resource_id as number,
  channel: r.channel as Subscription['channel'],
  address: r.address as string,
  provider: (r.provider as string | null) ?? null,
  keys: json(r.push_keys),
  extra: json(r.extra),
  status: r.status as Subscription['status'],
  priority: r.priority as number,
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
});

/** The start of SQLite's scan page query (exported for the test that checks its plan). */
export const SQLITE_SCAN = 'SELECT rowid AS scan_position, * FROM profiles NOT INDEXED WHERE db_id = ? AND rowid > ?';

/** Values a text needle can stand for: JSON.stringify writes each of them one way only. */
const NEEDLES_AT_MOST = 16;

/**
 * SQL keeping the rows whose custom field `field` may equal one of `values`: a superset test (the query
 * decides after), so it must keep every row MongoDB's equality matches: the value itself (same type;
 * numbers by value) and an array holding it. Rows are written with JSON.stringify (profileRow), which
 * spells a field `"name":` and each value one way, so on PostgreSQL a few values are looked for as text
 * (no JSON parsing: a third of the cost); more are compared parsed. An array is always kept.
 */
function narrowing(dialect: SqlDriver['dialect'], only: { field: string; values: (string | number | boolean)[] }): ScanFilter {
  // Field names are letters, digits and '_' (core/fields.ts), safe in a JSON path and as text.
  const key = `"${only.field}":`;
  const canonical = only.values.every((v) => typeof v !== 'number' || Number.isFinite(v));
  if (dialect === 'postgres' && canonical && only.values.length <= NEEDLES_AT_MOST) {
    const needles = [...only.values.map((v) => key + JSON.stringify(v)), `${key}[`];
    return { sql: ` AND (${needles.map(() => 'strpos(data, ?) > 0').join(' OR ')})`, params: needles };
  }
  const value = dialect === 'sqlite' ? `json_extract(data, '$.${only.field}')` : `(CAST(data AS json) ->> '${only.field}')`;
  const values = dialect === 'sqlite' ? only.values : only.values.map(String);
  const contains = dialect === 'sqlite' ? 'instr(data, ?) > 0' : 'strpos(data, ?) > 0';
  return { sql: ` AND (${value} IN (${placeholders(values.length)}) OR ${contains})`, params: [...values, `${key}[`] };
}

/** See ProfileStore.profilesPerWrite. */
const PROFILES_PER_SQLITE_WRITE = 25;

export type { ProfileWrite };

/** Where a single-profile matching mode looks: a profile field, a subscription channel's addresses (of one resource, if given), or both. */
export interface MatchLooks {
  field: ProfileLookup | null;
  channel: string | null;
  resourceId: number | null;
}

export interface ProfileStore {
  /**
   * How many profiles a write of many (an import) resolves and writes at a time: SQLite writes in-process,
   * where small slices keep what a slice allocates young; PostgreSQL takes a batch whole (a statement per table).
   */
  readonly profilesPerWrite: number;
  /** Profiles of database dbId whose lookup value is one of `values` (at most `limit` of them). */
  findProfiles(dbId: number, by: ProfileLookup, values: string[], limit?: number): Promise<Profile[]>;
  /**
   * Profiles of dbId whose lookup value is `value`, after profile id `afterId`, in id order: a page
   * of an audience whose one value matches many profiles.
   */
  findProfilesAfter(dbId: number, by: ProfileLookup, value: string, afterId: string, limit: number): Promise<Profile[]>;
  /** Ids of the profiles of dbId having every key of `keys` in a side-index field (tags: all of them). */
  findProfileIdsWithAllKeys(dbId: number, field: string, keys: string[]): Promise<string[]>;
  /**
   * Serialises writers of one database's profiles until the transaction ends, so two imports cannot
   * both create "the" profile for one email. SQLite transactions are serial already.
   */
  lockDatabase(dbId: number): Promise<void>;
  getProfiles(ids: string[]): Promise<Profile[]>;
  /**
   * A page of a database's profiles, for full scans that keep memory flat; `after` is the previous
   * page's `next` (null: the start; `next` null: the end). SQLite pages in rowid order, which reads
   * the table sequentially (in id order every row cost an index lookup: 4 s for a million); PostgreSQL
   * walks the table's blocks too (pg-scan.ts), then reads the rows written since the walk began (so a
   * profile updated during a scan may come twice there, never not at all). (VACUUM may renumber SQLite rowids: one run while a custom_request launch
   * is being expanded could make it miss profiles; docs/operations.md says so.) `only` keeps rows whose custom field is one of some values: a superset test
   * done in SQL (the query decides after), so rows that cannot match are never decoded.
   */
  scanProfiles(
    dbId: number,
    after: string | null,
    limit: number,
    only?: { field: string; values: (string | number | boolean)[] },
  ): Promise<{ profiles: Profile[]; next: string | null }>;
  countProfiles(dbId: number): Promise<number>;
  /** A database's subscriptions counted by channel and status (databases/get). */
  countSubscriptions(dbId: number): Promise<{ channel: string; status: string; count: number }[]>;
  /** A page of a database's profiles in id order, after profile id `afterId` ('' for the start): profiles/list's cursor. */
  listProfilesAfter(dbId: number, afterId: string, limit: number): Promise<Profile[]>;
  saveProfiles(writes: ProfileWrite[]): Promise<void>;
  /** A profile's subscriptions (or several profiles'), best first: highest priority, then oldest. */
  getSubscriptions(profileIds: string[]): Promise<Subscription[]>;
  /**
   * The subscriptions, best first, of every profile of dbId that one lookup value finds: by a
   * profile field, by a subscription's address, or both (a trigger's email or phone matching). The
   * same rows as getSubscriptions of what those lookups find, read without waiting for them first:
   * sent beside them, it saves a launch a round trip on PostgreSQL.
   */
  getSubscriptionsOfMatch(dbId: number, value: string, o: MatchLooks): Promise<Subscription[]>;
  /**
   * The profiles a single-profile matching mode names, each once, in one statement: those whose
   * field (`o.field`) is `value` and those with a subscription on `o.channel` at `value`.
   */
  findProfilesOfMatch(dbId: number, value: string, o: MatchLooks): Promise<Profile[]>;
  /** Profiles of dbId with a subscription on `channel` at `address` (of one resource, if given). */
  findProfilesBySubscription(dbId: number, channel: string, address: string, resourceId: number | null): Promise<Profile[]>;
  /** Sets one subscription's status (a hard bounce at send time); answers whether it existed. */
  setSubscriptionStatus(id: number, status: Subscription['status'], now: number): Promise<boolean>;
  /** Adds or updates subscriptions; (profile, resource, channel, address) identifies one. */
  saveSubscriptions(rows: StoredSubscriptionWrite[], now: number): Promise<void>;
}

/**
 * A statement text built once per what it is built from: the texts below are of a few shapes (a
 * matching mode's field and channel), and a text built anew for every trigger cost the statement
 * cache a long string to hash each time (the same text, a new string) besides building it.
 */
function textOnce<K>(build: (k: K) => string): (k: K) => string {
  const texts = new Map<K, string>();
  return (k) => {
    let text = texts.get(k);
    if (text === undefined) {
      text = build(k);
      texts.set(k, text);
    }
    return text;
  };
}

// UNION ALL, not UNION: SQLite merges a UNION in id order, and took the (db_id, id) index to get it,
// reading every profile of the database (25 ms at 20k profiles, against 0.1 ms); IN needs no order.
const idsText = textOnce((shape: string) => {
  const [field, channel] = shape.split(' ');
  const found: string[] = [];
  if (field === 'key') found.push('SELECT profile_id FROM profile_keys WHERE db_id = ? AND field = ? AND key = ?');
  else if (field) found.push(`SELECT id FROM profiles WHERE db_id = ? AND ${field} = ?`);
  if (channel) found.push('SELECT profile_id FROM subscriptions WHERE db_id = ? AND channel = ? AND address = ? AND (CAST(? AS INTEGER) IS NULL OR resource_id = ?)');
  return found.join(' UNION ALL ');
});
const subscriptionsOfIdsText = textOnce((ids: string) => `SELECT * FROM subscriptions WHERE profile_id IN (${ids}) ORDER BY priority DESC, id`);
const profilesOfIdsText = textOnce((ids: string) => `SELECT * FROM profiles WHERE id IN (${ids})`);

/** The ids of the profiles a single-profile matching mode names, as a subquery; null when it looks nowhere. */
function matchedIds(dbId: number, value: string, o: MatchLooks): { sql: string; params: Param[] } | null {
  const params: Param[] = [];
  let field = '';
  if (typeof o.field === 'string') {
    field = COLUMNS[o.field];
    params.push(dbId, value);
  } else if (o.field) {
    field = 'key';
    params.push(dbId, o.field.key, value);
  }
  if (o.channel) params.push(dbId, o.channel, value, o.resourceId, o.resourceId);
  if (params.length === 0) return null;
  return { sql: idsText(`${field} ${o.channel ? 'channel' : ''}`), params };
}

/** getSubscriptionsOfMatch's statement (exported so that a test can ask SQLite for its plan); null when it looks nowhere. */
export function subscriptionsOfMatchQuery(dbId: number, value: string, o: MatchLooks): { sql: string; params: Param[] } | null {
  const ids = matchedIds(dbId, value, o);
  return ids && { sql: subscriptionsOfIdsText(ids.sql), params: ids.params };
}

/** findProfilesOfMatch's statement (exported so that a test can ask SQLite for its plan); null when it looks nowhere. */
export function profilesOfMatchQuery(dbId: number, value: string, o: MatchLooks): { sql: string; params: Param[] } | null {
  const ids = matchedIds(dbId, value, o);
  return ids && { sql: profilesOfIdsText(ids.sql), params: ids.params };
}

export function profileQueries(db: SqlDriver): ProfileStore {
  return {
    profilesPerWrite: db.dialect === 'sqlite' ? PROFILES_PER_SQLITE_WRITE : Number.POSITIVE_INFINITY,

    async findProfiles(dbId: number, by: ProfileLookup, values: string[], limit?: number): Promise<Profile[]> {
      const out: Profile[] = [];
      const cap = limit === undefined ? '' : ' LIMIT ?';
      const capped = limit === undefined ? [] : [limit];
      const unique = [...new Set(values)];
      // PostgreSQL takes the values as one JSON parameter: no limit to split them for (an import of 1,000 took two statements).
      for (const part of db.dialect === 'postgres' ? (unique.length ? [unique] : []) : chunks(unique)) {
        // One value: `=` costs half of `IN (?)` in SQLite, and one value is the common case (a trigger).
        const match = part.length === 1 ? '= ?' : `IN (${placeholders(part.length)})`;
        const rows =
          typeof by === 'string'
            ? db.dialect === 'postgres' && part.length > 1
              ? await db.all(
                  // One index probe per value, whatever the planner believes of the table: a fresh one (no
                  // statistics yet) made it filter the whole database through the db_id index, row by row
                  // against the list, and a first import of 100k profiles quadratic.
                  `SELECT p.* FROM json_array_elements_text(CAST(? AS TEXT)::json) v (value)
                   CROSS JOIN LATERAL (SELECT * FROM profiles WHERE db_id = ? AND ${COLUMNS[by]} = v.value OFFSET 0) p${cap}`,
                  [JSON.stringify(part), dbId, ...capped],
                )
              : await db.all(`SELECT * FROM profiles WHERE db_id = ? AND ${COLUMNS[by]} ${match}${cap}`, [dbId, ...part, ...capped])
            : db.dialect === 'postgres' && part.length > 1
              ? await db.all(
                  // The same for the side index: a list estimated at thousands of rows got a parallel bitmap
                  // plan, whose workers' start-up cost more than the 500 probes (an indexed $in of 1,000: 60 ms).
                  `SELECT p.* FROM json_array_elements_text(CAST(? AS TEXT)::json) v (value)
                   CROSS JOIN LATERAL (SELECT profile_id FROM profile_keys WHERE db_id = ? AND field = ? AND key = v.value OFFSET 0) k
                   JOIN profiles p ON p.id = k.profile_id${cap}`,
                  [JSON.stringify(part), dbId, by.key, ...capped],
                )
              : await db.all(
                  `SELECT p.* FROM profile_keys k JOIN profiles p ON p.id = k.profile_id
                   WHERE k.db_id = ? AND k.field = ? AND k.key ${match}${cap}`,
                  [dbId, by.key, ...part, ...capped],
                );
        for (const r of rows) out.push(toProfile(r));
      }
      // A profile with several of the values (tags) comes once per value: keep it once. (DISTINCT
      // in SQL would sort whole rows, which cost most of an indexed audience read.)
      return typeof by === 'string' ? out : [...new Map(out.map((p) => [p.id, p])).values()];
    },

    async findProfilesAfter(dbId: number, by: ProfileLookup, value: string, afterId: string, limit: number): Promise<Profile[]> {
      const rows =
        typeof by === 'string'
          ? await db.all(`SELECT * FROM profiles WHERE db_id = ? AND ${COLUMNS[by]} = ? AND id > ? ORDER BY id LIMIT ?`, [dbId, value, afterId, limit])
          : await db.all(
              `SELECT p.* FROM profile_keys k JOIN profiles p ON p.id = k.profile_id
               WHERE k.db_id = ? AND k.field = ? AND k.key = ? AND k.profile_id > ? ORDER BY k.profile_id LIMIT ?`,
              [dbId, by.key, value, afterId, limit],
            );
      return rows.map(toProfile);
    },

    async findProfileIdsWithAllKeys(dbId: number, field: string, keys: string[]): Promise<string[]> {
      const unique = [...new Set(keys)];
      const rows = await db.all<{ profile_id: string }>(
        `SELECT profile_id FROM profile_keys WHERE db_id = ? AND field = ? AND key IN (${placeholders(unique.length)})
         GROUP BY profile_id HAVING COUNT(*) = ?`,
        [dbId, field, ...unique, unique.length],
      );
      return rows.map((r) => r.profile_id);
    },

    async lockDatabase(dbId: number): Promise<void> {
      if (db.dialect === 'postgres') await db.all(`SELECT pg_advisory_xact_lock(${PROFILE_DATABASE_LOCK_CLASS}, ?)`, [dbId]);
    },

    async getProfiles(ids: string[]): Promise<Profile[]> {
      const out: Profile[] = [];
      for (const part of chunks([...new Set(ids)])) {
        for (const r of await db.all(`SELECT * FROM profiles WHERE id IN (${placeholders(part.length)})`, part)) out.push(toProfile(r));
      }
      return out;
    },

    async scanProfiles(
      dbId: number,
      after: string | null,
      limit: number,
      only?: { field: string; values: (string | number | boolean)[] },
    ): Promise<{ profiles: Profile[]; next: string | null }> {
      const filter = only ? narrowing(db.dialect, only) : { sql: '', params: [] };
      if (db.dialect === 'postgres') {
        const { rows, next } = await scanPostgres(db, dbId, after, limit, filter);
        return { profiles: rows.map(toProfile), next };
      }
      // NOT INDEXED: left to itself SQLite takes the db_id index and sorts every page by rowid, which
      // made a scan of a million profiles quadratic (205 s); the rowid range needs no index.
      const rows = await db.all(`${SQLITE_SCAN}${filter.sql} ORDER BY rowid LIMIT ?`, [dbId, Number(after ?? 0), ...filter.params, limit]);
      const next = rows.length < limit ? null : String(rows[rows.length - 1].scan_position);
      return { profiles: rows.map(toProfile), next };
    },

    async countProfiles(dbId: number): Promise<number> {
      const r = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM profiles WHERE db_id = ?', [dbId]);
      return r!.n;
    },

    async countSubscriptions(dbId: number): Promise<{ channel: string; status: string; count: number }[]> {
      const rows = await db.all<{ channel: string; status: string; n: number | string }>(
        'SELECT channel, status, COUNT(*) AS n FROM subscriptions WHERE db_id = ? GROUP BY channel, status ORDER BY channel, status',
        [dbId],
      );
      return rows.map((r) => ({ channel: r.channel, status: r.status, count: Number(r.n) }));
    },

    async listProfilesAfter(dbId: number, afterId: string, limit: number): Promise<Profile[]> {
      return (await db.all('SELECT * FROM profiles WHERE db_id = ? AND id > ? ORDER BY id LIMIT ?', [dbId, afterId, limit])).map(toProfile);
    },

    saveProfiles: (writes: ProfileWrite[]) => saveProfiles(db, writes),

    async getSubscriptions(profileIds: string[]): Promise<Subscription[]> {
      const out: Subscription[] = [];
      for (const part of chunks([...new Set(profileIds)])) {
        const rows = await db.all(
          `SELECT * FROM subscriptions WHERE profile_id IN (${placeholders(part.length)}) ORDER BY priority DESC, id`,
          part,
        );
        for (const r of rows) out.push(toSubscription(r));
      }
      return out;
    },

    async getSubscriptionsOfMatch(dbId: number, value: string, o: MatchLooks): Promise<Subscription[]> {
      const q = subscriptionsOfMatchQuery(dbId, value, o);
      return q ? (await db.all(q.sql, q.params)).map(toSubscription) : [];
    },

    async findProfilesOfMatch(dbId: number, value: string, o: MatchLooks): Promise<Profile[]> {
      const q = profilesOfMatchQuery(dbId, value, o);
      return q ? (await db.all(q.sql, q.params)).map(toProfile) : [];
    },

    async findProfilesBySubscription(dbId: number, channel: string, address: string, resourceId: number | null): Promise<Profile[]> {
      const rows = await db.all(
        `SELECT DISTINCT p.* FROM subscriptions s JOIN profiles p ON p.id = s.profile_id
         WHERE s.db_id = ? AND s.channel = ? AND s.address = ? AND (CAST(? AS INTEGER) IS NULL OR s.resource_id = ?)`,
        [dbId, channel, address, resourceId, resourceId],
      );
      return rows.map(toProfile);
    },

    async setSubscriptionStatus(id: number, status: Subscription['status'], now: number): Promise<boolean> {
      return (await db.run('UPDATE subscriptions SET status = ?, updated_at = ? WHERE id = ?', [status, now, id])) === 1;
    },

    saveSubscriptions: (rows: StoredSubscriptionWrite[], now: number) => saveSubscriptions(db, rows, now),
  };
}
