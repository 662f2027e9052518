/**
 * A trigger's profile and its subscriptions, read together: what findProfilesOfMatch and
 * getSubscriptionsOfMatch answer, for the launch of one profile. On SQLite one statement: the profile
 * rows joined with their subscriptions, each way of finding the profile a branch of a UNION ALL (the
 * branch by subscription leaves out what the branch by field found). The two statements it replaces
 * each gathered the found ids in a temporary table (`IN (subquery)`) and sorted the subscriptions in
 * another; together they cost a trigger about 140k instructions, this one about 70k (docs/performance-log.md,
 * 2026-12-08 "rows"). On PostgreSQL the two statements, sent together (one round trip).
 */
import type { Profile, Subscription } from '../../core/types.ts';
import type { Param, Row, SqlDriver } from '../driver.ts';
import { COLUMNS, profileQueries, toProfile, toSubscription, type MatchLooks } from './profiles.ts';

export interface MatchStore {
  /** The profiles a single-profile matching mode names (each once) and all their subscriptions, best first. */
  findMatchWithSubscriptions(dbId: number, value: string, o: MatchLooks): Promise<{ profiles: Profile[]; subscriptions: Subscription[] }>;
}

const SUBSCRIPTION_COLUMNS = ['id', 'profile_id', 'db_id', 'resource_id', 'channel', 'address', 'provider', 'push_keys', 'extra', 'status', 'priority', 'created_at', 'updated_at'];
const SELECT = `SELECT p.*, ${SUBSCRIPTION_COLUMNS.map((c) => `s.${c} AS s_${c}`).join(', ')}`;
const WITH_SUBSCRIPTIONS = 'LEFT JOIN subscriptions s ON s.profile_id = p.id';

/** The statement of one shape (the field looked at, the channel), built once. */
const texts = new Map<string, string>();
function matchText(field: string, channel: boolean): string {
  const shape = `${field} ${channel}`;
  let text = texts.get(shape);
  if (text !== undefined) return text;
  const branches: string[] = [];
  if (field === 'key') branches.push(`${SELECT} FROM profile_keys k JOIN profiles p ON p.id = k.profile_id ${WITH_SUBSCRIPTIONS} WHERE k.db_id = ? AND k.field = ? AND k.key = ?`);
  else if (field) branches.push(`${SELECT} FROM profiles p ${WITH_SUBSCRIPTIONS} WHERE p.db_id = ? AND p.${field} = ?`);
  if (channel) {
    // A profile the field's branch found too is left out here: its row and subscriptions come once.
    const notFoundAbove =
      field === 'key'
        ? ' AND NOT EXISTS (SELECT 1 FROM profile_keys k WHERE k.profile_id = p.id AND k.db_id = ? AND k.field = ? AND k.key = ?)'
        : field
          ? ` AND (p.db_id IS NOT ? OR p.${field} IS NOT ?)`
          : '';
    branches.push(
      `${SELECT} FROM subscriptions f JOIN profiles p ON p.id = f.profile_id ${WITH_SUBSCRIPTIONS}
       WHERE f.db_id = ? AND f.channel = ? AND f.address = ? AND (CAST(? AS INTEGER) IS NULL OR f.resource_id = ?)${notFoundAbove}`,
    );
  }
  text = branches.join(' UNION ALL ');
  texts.set(shape, text);
  return text;
}

/** SQLite's statement of findMatchWithSubscriptions (exported so that a test can ask SQLite for its plan); null when it looks nowhere. */
export function matchWithSubscriptionsQuery(dbId: number, value: string, o: MatchLooks): { sql: string; params: Param[] } | null {
  const field = typeof o.field === 'string' ? COLUMNS[o.field] : o.field ? 'key' : '';
  if (!field && !o.channel) return null;
  const byField: Param[] = typeof o.field === 'string' ? [dbId, value] : o.field ? [dbId, o.field.key, value] : [];
  return { sql: matchText(field, o.channel !== null), params: o.channel ? [...byField, dbId, o.channel, value, o.resourceId, o.resourceId, ...byField] : byField };
}

/** A subscription from the `s_` columns of a joined row (as toSubscription reads a subscription row). */
const subscriptionOf = (r: Row): Subscription =>
  toSubscription({
    id: r.s_id, profile_id: r.s_profile_id, db_id: r.s_db_id, resource_id: r.s_resource_id, channel: r.s_channel, address: r.s_address, provider: r.s_provider,
    push_keys: r.s_push_keys, extra: r.s_extra, status: r.s_status, priority: r.s_priority, created_at: r.s_created_at, updated_at: r.s_updated_at,
  });

export function matchQueries(db: SqlDriver): MatchStore {
  if (db.dialect === 'postgres') {
    const profiles = profileQueries(db);
    return {
      async findMatchWithSubscriptions(dbId, value, o) {
        const [found, subscriptions] = await Promise.all([profiles.findProfilesOfMatch(dbId, value, o), profiles.getSubscriptionsOfMatch(dbId, value, o)]);
        return { profiles: found, subscriptions };
      },
    };
  }
  return {
    async findMatchWithSubscriptions(dbId, value, o) {
      const q = matchWithSubscriptionsQuery(dbId, value, o);
      if (!q) return { profiles: [], subscriptions: [] };
      const rows = await db.all(q.sql, q.params);
      const profiles: Profile[] = [];
      const subscriptions: Subscription[] = [];
      // A profile with several subscriptions comes on several rows; one found by two of its subscriptions, twice each.
      for (const r of rows) {
        if (!profiles.some((p) => p.id === r.id)) profiles.push(toProfile(r));
        if (r.s_id !== null && !subscriptions.some((s) => s.id === r.s_id)) subscriptions.push(subscriptionOf(r));
      }
      // In the orders the two reads answered: profiles by id (several are a 409 naming their count), subscriptions best first.
      if (profiles.length > 1) profiles.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      subscriptions.sort((a, b) => b.priority - a.priority || a.id - b.id);
      return { profiles, subscriptions };
    },
  };
}
