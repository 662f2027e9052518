/**
 * Writing profiles, their side-index keys and their subscriptions: what an import does a thousand at a
 * time. Rows are made as value lists in column order (insertTuples), not an object a row: on SQLite they
 * are bound as they are, one prepared statement a row; on PostgreSQL each table takes its rows in one
 * statement.
 */
import type { ProfileKey } from '../../core/profile.ts';
import { subscriptionKey, type StoredSubscriptionWrite } from '../../core/subscriptions.ts';
import type { Profile } from '../../core/types.ts';
import { insertTuples, type Param, type SqlDriver } from '../driver.ts';

export interface ProfileWrite {
  profile: Profile;
  isNew: boolean;
  keysAdded: ProfileKey[];
  keysRemoved: ProfileKey[];
}

const PROFILE_COLUMNS = ['id', 'db_id', 'email', 'phones', 'status', 'md5', 'xxh', 'data', 'created_at', 'updated_at'] as const;
const KEY_COLUMNS = ['db_id', 'field', 'key', 'profile_id'] as const;
const SUBSCRIPTION_COLUMNS = ['profile_id', 'db_id', 'resource_id', 'channel', 'address', 'provider', 'push_keys', 'extra', 'status', 'priority', 'created_at', 'updated_at'] as const;
/** Where a subscription row holds its push keys and extra (SUBSCRIPTION_COLUMNS). */
const PUSH_KEYS = 6;
const EXTRA = 7;

const profileTuple = (p: Profile): Param[] => [p.id, p.db_id, p.email, JSON.stringify(p.phones), p.status, p.md5, p.xxh, JSON.stringify(p.data), p.created_at, p.updated_at];

/**
 * One write a profile, as its writes in turn leave it: the last profile, new if its first write made it,
 * each key as the last write naming it left it. The list itself when no profile comes twice (the common case).
 */
function onePerProfile(writes: ProfileWrite[]): ProfileWrite[] {
  const ids = new Set<string>();
  for (const w of writes) ids.add(w.profile.id);
  if (ids.size === writes.length) return writes;
  const byId = new Map<string, { profile: Profile; isNew: boolean; keys: Map<string, { key: ProfileKey; add: boolean }> }>();
  for (const { profile, isNew, keysAdded, keysRemoved } of writes) {
    let merged = byId.get(profile.id);
    if (!merged) {
      merged = { profile, isNew, keys: new Map() };
      byId.set(profile.id, merged);
    }
    merged.profile = profile;
    // A field name holds no newline (core/fields.ts), so field and key joined by one are unambiguous.
    for (const key of keysRemoved) merged.keys.set(`${key.field}\n${key.key}`, { key, add: false });
    for (const key of keysAdded) merged.keys.set(`${key.field}\n${key.key}`, { key, add: true });
  }
  return [...byId.values()].map(({ profile, isNew, keys }) => {
    const all = [...keys.values()];
    return { profile, isNew, keysAdded: all.filter((k) => k.add).map((k) => k.key), keysRemoved: all.filter((k) => !k.add).map((k) => k.key) };
  });
}

/** Writes profiles and keeps their side-index keys in step; a profile written twice in the list is written once, as it ends up. */
export async function saveProfiles(db: SqlDriver, writes: ProfileWrite[]): Promise<void> {
  const inserted: Param[][] = [];
  const updated: Profile[] = [];
  const added: Param[][] = [];
  const removed: Param[][] = [];
  for (const { profile: p, isNew, keysAdded, keysRemoved } of onePerProfile(writes)) {
    if (isNew) inserted.push(profileTuple(p));
    else updated.push(p);
    for (const k of keysAdded) added.push([p.db_id, k.field, k.key, p.id]);
    for (const k of keysRemoved) removed.push([p.db_id, k.field, k.key, p.id]);
  }
  await insertTuples(db, 'profiles', PROFILE_COLUMNS, inserted);
  if (db.dialect === 'postgres') {
    if (updated.length) {
      const rows = updated.map((p) => ({ id: p.id, email: p.email, phones: JSON.stringify(p.phones), status: p.status, md5: p.md5, xxh: p.xxh, data: JSON.stringify(p.data), updated_at: p.updated_at }));
      await db.run(
        `UPDATE profiles p SET email = v.email, phones = v.phones, status = v.status, md5 = v.md5, xxh = v.xxh, data = v.data, updated_at = v.updated_at
         FROM json_populate_recordset(NULL::profiles, CAST(? AS TEXT)::json) v WHERE p.id = v.id`,
        [JSON.stringify(rows)],
      );
    }
    if (removed.length) {
      const rows = removed.map(([db_id, field, key, profile_id]) => ({ db_id, field, key, profile_id }));
      await db.run(
        `DELETE FROM profile_keys k USING json_populate_recordset(NULL::profile_keys, CAST(? AS TEXT)::json) v
         WHERE k.db_id = v.db_id AND k.field = v.field AND k.key = v.key AND k.profile_id = v.profile_id`,
        [JSON.stringify(rows)],
      );
    }
  } else {
    if (updated.length) {
      await db.runEach(
        'UPDATE profiles SET email = ?, phones = ?, status = ?, md5 = ?, xxh = ?, data = ?, updated_at = ? WHERE id = ?',
        updated.map((p) => [p.email, JSON.stringify(p.phones), p.status, p.md5, p.xxh, JSON.stringify(p.data), p.updated_at, p.id]),
      );
    }
    if (removed.length) await db.runEach('DELETE FROM profile_keys WHERE db_id = ? AND field = ? AND key = ? AND profile_id = ?', removed);
  }
  await insertTuples(db, 'profile_keys', KEY_COLUMNS, added, 'ON CONFLICT DO NOTHING');
}

/**
 * Writes subscriptions: new ones added, stored ones updated (provider, status, priority; push keys and extra
 * when given, else kept). SQLite runs one row at a time, so a subscription written twice in the list is
 * simply written twice; PostgreSQL's one statement may not touch a row twice, so there the list is first
 * made one row a subscription as writing them in turn would leave it (the last write's values, the last keys
 * and extra given).
 */
export async function saveSubscriptions(db: SqlDriver, writes: StoredSubscriptionWrite[], now: number): Promise<void> {
  const rows: Param[][] = [];
  const at = db.dialect === 'postgres' ? new Map<string, number>() : null;
  for (const s of writes) {
    const row: Param[] = [s.profile_id, s.db_id, s.resource_id, s.channel, s.address, s.provider, s.keys ? JSON.stringify(s.keys) : null, s.extra ? JSON.stringify(s.extra) : null, s.status, s.priority, now, now];
    if (at) {
      const key = subscriptionKey(s);
      const i = at.get(key);
      if (i !== undefined) {
        row[PUSH_KEYS] ??= rows[i][PUSH_KEYS];
        row[EXTRA] ??= rows[i][EXTRA];
        rows[i] = row;
        continue;
      }
      at.set(key, rows.length);
    }
    rows.push(row);
  }
  await insertTuples(
    db,
    'subscriptions',
    SUBSCRIPTION_COLUMNS,
    rows,
    `ON CONFLICT (profile_id, resource_id, channel, address)
     DO UPDATE SET provider = excluded.provider, push_keys = COALESCE(excluded.push_keys, subscriptions.push_keys),
       extra = COALESCE(excluded.extra, subscriptions.extra),
       status = excluded.status, priority = excluded.priority, updated_at = excluded.updated_at`,
  );
}
