/**
 * Who a launch is for. A matching mode names one profile (none is a 404, several a 409); a
 * `custom_request` names any number, read a page at a time through the narrowest index.
 */
import { conflict, notFound, badRequest } from '../core/errors.ts';
import { findField } from '../core/fields.ts';
import type { SingleMatch } from '../core/launch-request.ts';
import { coerceFieldValue } from '../core/matching.ts';
import { audiencePredicate, planAudience, type AudiencePlan } from '../core/audience-plan.ts';
import type { MongoQuery, Predicate } from '../core/mongo-query.ts';
import { profileDocument } from '../core/profile.ts';
import type { Database, Profile, Subscription } from '../core/types.ts';
import type { ProfileLookup } from '../store/queries/profiles.ts';
import type { MatchStore, ProfileStore } from '../store/store.ts';
import { findByField } from './lookup.ts';

/**
 * Where each single-profile matching mode looks: a profile field (a column, or a side-index field
 * such as phones), a subscription channel's addresses, or both. `custom` looks at a custom field
 * (lookup.ts).
 */
const LOOKS: Record<Exclude<SingleMatch['mode'], 'custom'>, { field: ProfileLookup | null; channel: string | null }> = {
  email: { field: 'email', channel: 'email' },
  email_profile: { field: 'email', channel: null },
  email_sub: { field: null, channel: 'email' },
  phone: { field: { key: 'phones' }, channel: 'sms' },
  phone_sub: { field: null, channel: 'sms' },
  push_sub: { field: null, channel: 'push' },
  profile_id: { field: 'id', channel: null },
};

/** Profiles a single-profile matching mode finds (before the one-profile rule is applied). */
async function findSingle(store: ProfileStore, db: Database, m: SingleMatch): Promise<Profile[]> {
  const value = m.value as string;
  if (m.mode === 'custom') {
    const field = findField(db, m.fieldName!);
    if (!field) throw badRequest(`field_name '${m.fieldName}' is not a field of database ${db.id}`);
    return findByField(store, db, field, coerceFieldValue(field, m.value));
  }
  // One statement for the profile field and the subscription addresses together (the same profile
  // found both ways is read once).
  return store.findProfilesOfMatch(db.id, value, { ...LOOKS[m.mode], resourceId: m.resourceId });
}

const describe = (m: SingleMatch) => (m.mode === 'custom' ? `${m.fieldName} ${JSON.stringify(m.value)}` : `${m.mode} ${m.value}`);

/** The one profile a matching mode names. */
export async function resolveSingle(store: ProfileStore, db: Database, m: SingleMatch): Promise<Profile> {
  return theOne(await findSingle(store, db, m), db, m);
}

/**
 * The one profile a matching mode names, with its subscriptions read in the same statement (SQLite)
 * or round trip (PostgreSQL) as the lookup, not after it: a trigger's read. `custom` reads them after
 * (subscriptions null).
 */
export async function resolveSingleWithSubscriptions(store: ProfileStore & MatchStore, db: Database, m: SingleMatch): Promise<{ profile: Profile; subscriptions: Subscription[] | null }> {
  if (m.mode === 'custom') return { profile: await resolveSingle(store, db, m), subscriptions: null };
  const looks = LOOKS[m.mode];
  const found = await store.findMatchWithSubscriptions(db.id, m.value as string, { field: looks.field, channel: looks.channel, resourceId: m.resourceId });
  return { profile: theOne(found.profiles, db, m), subscriptions: found.subscriptions };
}

function theOne(rows: Profile[], db: Database, m: SingleMatch): Profile {
  // Each profile once (a custom field's lookup may find one twice); one found needs no look.
  const found = rows.length < 2 ? rows : [...new Map(rows.map((p) => [p.id, p])).values()];
  if (found.length === 0) throw notFound(`no profile found for ${describe(m)} in database ${db.id}`);
  if (found.length > 1) throw conflict(`${found.length} profiles match ${describe(m)} in database ${db.id}; use custom_request to reach several`);
  return found[0];
}

export interface AudiencePage {
  profiles: Profile[];
  /** Where the next page starts; null when the audience is exhausted. */
  next: string | null;
  /** Profiles read from the store for this page (the index narrows, the query decides). */
  rowsRead: number;
}

const KEYS_PER_PAGE = 500;

/**
 * One page of a custom_request audience, from `cursor` on (null: the start). An index plan reads
 * its keys 500 at a time; a key matching more than a page of profiles (one segment of 100,000) is
 * read a page at a time by profile id. Cursors: `<key index>` or `<key index>:<last profile id>`.
 */
export async function readAudiencePage(store: ProfileStore, db: Database, plan: AudiencePlan, test: Predicate, cursor: string | null, pageSize: number): Promise<AudiencePage> {
  let rows: Profile[];
  let next: string | null;
  if (plan.kind === 'keys') {
    const [at, after] = cursor === null ? [0, null] : [Number(cursor.split(':')[0]), cursor.includes(':') ? cursor.slice(cursor.indexOf(':') + 1) : null];
    const keys = plan.keys.slice(at, at + KEYS_PER_PAGE);
    rows = after === null && keys.length ? await store.findProfiles(db.id, plan.lookup, keys, pageSize + 1) : [];
    if (after === null && rows.length <= pageSize) {
      next = at + KEYS_PER_PAGE < plan.keys.length ? String(at + KEYS_PER_PAGE) : null;
    } else {
      // A heavy key: one key at a time, a page at a time.
      rows = await store.findProfilesAfter(db.id, plan.lookup, plan.keys[at], after ?? '', pageSize);
      const moreOfThisKey = rows.length === pageSize;
      next = moreOfThisKey ? `${at}:${rows[rows.length - 1].id}` : at + 1 < plan.keys.length ? String(at + 1) : null;
    }
  } else {
    ({ profiles: rows, next } = await store.scanProfiles(db.id, cursor, pageSize, plan.only));
  }
  return { profiles: rows.filter((p) => test(profileDocument(p))), next, rowsRead: rows.length };
}

/** Every page of a custom_request audience, start to end (for callers that need no stored cursor). */
export async function* audiencePages(store: ProfileStore, db: Database, query: MongoQuery, pageSize: number): AsyncGenerator<AudiencePage> {
  const plan = planAudience(query, db);
  const test = audiencePredicate(query, plan);
  let cursor: string | null = null;
  do {
    const page = await readAudiencePage(store, db, plan, test, cursor, pageSize);
    yield page;
    cursor = page.next;
  } while (cursor !== null);
}
