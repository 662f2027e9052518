/**
 * profiles/import, profiles/update, profiles/import_batch and profiles/get: find the profile a request
 * names in a database, apply the fields and subscriptions it brings, all items of a batch in one
 * transaction. profiles/delete (engine/erasure.ts) finds its profile here too.
 */
import { ApiError, badRequest, conflict, notFound } from '../core/errors.ts';
import { fieldValue, findField, normalizeEmail, normalizePhone, normalizeProfileData, type ProfilePatch } from '../core/fields.ts';
import { isId, PROFILE_ID } from '../core/ids.ts';
import { coerceFieldValue, fieldHasValue, profileMatching, rootMatchKey, type ProfileMatching } from '../core/matching.ts';
import { applyProfilePatch, profileDocument, profileKeys, subscriptionView, type ProfileKey } from '../core/profile.ts';
import { normalizeSubscription, resolveSubscriptionWrites, type SubscriptionInput, type SubscriptionWrite } from '../core/subscriptions.ts';
import type { Database, FieldDef, Profile } from '../core/types.ts';
import type { ProfileWrite } from '../store/queries/profiles.ts';
import type { CatalogStore, ProfileStore, Transactions } from '../store/store.ts';
import { findByField, scanDatabase } from './lookup.ts';
import { loadDatabase } from './catalog-entries.ts';

/** How a request matches profiles of one database. */
export interface MatchSpec {
  mode: ProfileMatching;
  field: FieldDef | null;
}

export interface MatchParams {
  matching?: string;
  field_name?: string;
  profile_id?: unknown;
  email?: unknown;
}

/**
 * The matching a request names; without one, email, unless the request names a `profile_id` at its root
 * and no email: Altcraft's own update-function examples send `{db_id, profile_id, data}` so.
 */
export function matchSpec(db: Database, p: MatchParams): MatchSpec {
  const byId = p.matching === undefined && p.profile_id !== undefined && p.email === undefined;
  const mode = profileMatching(byId ? 'profile_id' : p.matching);
  if (mode !== 'custom') return { mode, field: null };
  if (!p.field_name) throw badRequest(`field_name is required when matching is 'custom'`);
  const field = findField(db, p.field_name);
  if (!field) throw notFound(`field '${p.field_name}' is not a field of database ${db.id}`);
  return { mode, field };
}

/** The normalised match key: an email, a phone, an id, or the JSON of a coerced custom value. */
interface MatchKey {
  key: string;
  coerced: unknown;
}

function matchKey(spec: MatchSpec, value: unknown, name: string): MatchKey {
  if (value === undefined || value === null || value === '') throw badRequest(`${name} is required for matching '${spec.mode}'`);
  switch (spec.mode) {
    case 'email': {
      const key = normalizeEmail(value, name);
      return { key, coerced: key };
    }
    case 'phone': {
      const key = normalizePhone(value, name);
      return { key, coerced: key };
    }
    case 'profile_id':
      if (typeof value !== 'string' || !PROFILE_ID.test(value)) throw badRequest(`${name} must be a 24-hex profile id`);
      return { key: value, coerced: value };
    case 'custom': {
      const coerced = coerceFieldValue(spec.field!, value, name);
      return { key: JSON.stringify(coerced), coerced };
    }
  }
}

/** The keys under which a profile is found by this spec (none for tag fields: they are tested). */
function keysOf(spec: MatchSpec, p: Profile): string[] {
  if (spec.mode === 'email') return p.email ? [p.email] : [];
  if (spec.mode === 'phone') return p.phones;
  if (spec.mode === 'profile_id') return [p.id];
  const v = fieldValue(p.data, spec.field!.name);
  return v === undefined || spec.field!.type === 'tags' ? [] : [JSON.stringify(v)];
}

/** Profiles of the database under each of the keys, in one pass of lookups. */
async function lookupMany(store: ProfileStore, db: Database, spec: MatchSpec, keys: MatchKey[]): Promise<Profile[]> {
  const values = keys.map((k) => k.key);
  if (spec.mode === 'email') return store.findProfiles(db.id, 'email', values);
  if (spec.mode === 'phone') return store.findProfiles(db.id, { key: 'phones' }, values);
  if (spec.mode === 'profile_id') return store.findProfiles(db.id, 'id', values);
  const field = spec.field!;
  if (field.indexed) return (await Promise.all(keys.map((k) => findByField(store, db, field, k.coerced)))).flat();
  const wanted = new Set(values);
  const found: Profile[] = [];
  for await (const page of scanDatabase(store, db.id)) {
    for (const p of page) {
      if (field.type === 'tags' ? keys.some((k) => fieldHasValue(p.data, field, k.coerced)) : keysOf(spec, p).some((k) => wanted.has(k))) found.push(p);
    }
  }
  return found;
}

/** One profile of a batch, checked and ready to write. */
export interface PreparedItem {
  match: MatchKey;
  patch: ProfilePatch;
  subscriptions: SubscriptionWrite[];
}

/**
 * An item whose match is known (the lookup needs every item's before any is written) and whose data is
 * read when its slice is written: what reading allocates then dies with the slice instead of living, and
 * being promoted, until the whole batch is written. Reading may fail: the item's answer is then that error.
 */
export interface DeferredItem {
  match: MatchKey;
  read(): PreparedItem | ItemResult;
}

export type ItemResult = { profile_id: string } | { error: number; error_text: string };

const failure = (e: unknown): ItemResult => {
  if (e instanceof ApiError) return { error: e.code, error_text: e.text };
  throw e;
};

/** Finds the one profile a match names (404 none, 409 several), or null when absent and allowed. */
function pickOne(spec: MatchSpec, match: MatchKey, candidates: Profile[], dbId: number, allowNone: boolean): Profile | null {
  if (candidates.length > 1) {
    throw conflict(`${candidates.length} profiles match ${spec.mode === 'custom' ? spec.field!.name : spec.mode} ${match.key} in database ${dbId}`);
  }
  if (candidates.length === 0 && !allowNone) throw notFound(`no profile matches ${spec.mode === 'custom' ? spec.field!.name : spec.mode} ${match.key} in database ${dbId}`);
  return candidates[0] ?? null;
}

/** A new profile carries the value it was matched by, unless its data sets that field itself. */
function withMatchValue(spec: MatchSpec, match: MatchKey, patch: ProfilePatch): ProfilePatch {
  if (spec.mode === 'email' && patch.email === undefined) return { ...patch, email: match.key };
  if (spec.mode === 'phone' && !patch.phones?.includes(match.key)) return { ...patch, phones: [match.key, ...(patch.phones ?? [])] };
  if (spec.mode === 'custom' && fieldValue(patch.data, spec.field!.name) === undefined) {
    return { ...patch, data: { ...patch.data, [spec.field!.name]: match.coerced } };
  }
  return patch;
}

const keyId = (k: ProfileKey) => `${k.field}\u0000${k.key}`;
/** A profile's write with the index keys it gains and loses (a new one: all of its keys, nothing to compare). */
function profileWrite(db: Database, existing: Profile | null, profile: Profile): ProfileWrite {
  const after = profileKeys(db, profile);
  if (!existing) return { profile, isNew: true, keysAdded: after, keysRemoved: [] };
  const before = profileKeys(db, existing);
  const b = new Set(before.map(keyId));
  const a = new Set(after.map(keyId));
  return { profile, isNew: false, keysAdded: after.filter((k) => !b.has(keyId(k))), keysRemoved: before.filter((k) => !a.has(keyId(k))) };
}

/**
 * Writes prepared items inside the caller's transaction (import_and_start writes the launch in it too), in
 * order: an item sees what earlier items of the same batch wrote. `upsert` creates missing profiles;
 * `update` answers 404 for them.
 */
export async function writeProfilesIn(
  tx: ProfileStore,
  db: Database,
  spec: MatchSpec,
  items: (PreparedItem | DeferredItem | ItemResult)[],
  mode: 'upsert' | 'update',
  now: number,
): Promise<ItemResult[]> {
  await tx.lockDatabase(db.id);
  const prepared = items.filter((i): i is PreparedItem | DeferredItem => 'match' in i);
  const latest = new Map<string, Profile>();
  // The ids under each key: a list, not a Set (one Set per profile of an import was a tenth of its garbage).
  const byKey = new Map<string, string[]>();
  const index = (p: Profile, add: boolean) => {
    for (const k of keysOf(spec, p)) {
      const ids = byKey.get(k);
      if (!ids) {
        if (add) byKey.set(k, [p.id]);
      } else if (add) {
        if (!ids.includes(p.id)) ids.push(p.id);
      } else {
        const at = ids.indexOf(p.id);
        if (at >= 0) ids.splice(at, 1);
      }
    }
  };
  for (const p of await lookupMany(tx, db, spec, prepared.map((i) => i.match))) {
    latest.set(p.id, p);
    index(p, true);
  }
  const candidates = (m: MatchKey): Profile[] =>
    spec.field?.type === 'tags'
      ? [...latest.values()].filter((p) => fieldHasValue(p.data, spec.field!, m.coerced))
      : (byKey.get(m.key) ?? []).map((id) => latest.get(id)!);

  const allowNone = mode === 'upsert' && spec.mode !== 'profile_id';
  const results: ItemResult[] = new Array(items.length);
  // In slices (the store says how large): on SQLite what a slice allocates dies young, where a whole batch
  // held until its end was promoted and made V8 run full collections (docs/performance-log.md). Each slice
  // is written before the next is resolved, so a later slice reads what an earlier one wrote.
  for (let from = 0; from < items.length; from += tx.profilesPerWrite) {
    const to = Math.min(items.length, from + tx.profilesPerWrite);
    const writes: ProfileWrite[] = [];
    const subscriptions: (SubscriptionWrite & { profile_id: string; db_id: number })[] = [];
    /** Profiles that existed before this write and get subscriptions leaving status or priority unsaid. */
    const keeping = new Set<string>();
    for (let i = from; i < to; i++) {
      const given = items[i];
      const item = 'read' in given ? given.read() : given;
      if (!('patch' in item)) {
        results[i] = item;
        continue;
      }
      try {
        const existing = pickOne(spec, item.match, candidates(item.match), db.id, allowNone);
        const patch = existing ? item.patch : withMatchValue(spec, item.match, item.patch);
        const profile = applyProfilePatch(existing, patch, db.id, now);
        if (existing) index(existing, false);
        index(profile, true);
        latest.set(profile.id, profile);
        writes.push(profileWrite(db, existing, profile));
        for (const s of item.subscriptions) {
          // Named, not spread: one object shape for every subscription of an import.
          subscriptions.push({ resource_id: s.resource_id, channel: s.channel, address: s.address, provider: s.provider, keys: s.keys, status: s.status, priority: s.priority, extra: s.extra, profile_id: profile.id, db_id: db.id });
          if (existing && (s.status === null || s.priority === null)) keeping.add(profile.id);
        }
        results[i] = { profile_id: profile.id };
      } catch (e) {
        results[i] = failure(e);
      }
    }
    await tx.saveProfiles(writes);
    const stored = keeping.size ? await tx.getSubscriptions([...keeping]) : [];
    await tx.saveSubscriptions(resolveSubscriptionWrites(subscriptions, stored), now);
  }
  return results;
}

/**
 * Writes a patch to one profile already found (v1.0 fields with option 2), or to a new one when there is
 * none (push_subscribe), keeping its index keys in step.
 */
export async function saveProfilePatch(tx: Pick<ProfileStore, 'saveProfiles'>, db: Database, existing: Profile | null, patch: ProfilePatch, now: number): Promise<Profile> {
  const profile = applyProfilePatch(existing, patch, db.id, now);
  await tx.saveProfiles([profileWrite(db, existing, profile)]);
  return profile;
}

export interface ImportOptions extends MatchParams {
  skip_invalid_subscriptions?: boolean;
}

/**
 * Import parameters of Altcraft's that Salvo has no concept for. Segments are refused when a list names
 * any (ignoring them would silently drop what the caller asked for); `detect_geo` and `skip_triggers` are
 * accepted and change nothing (docs/api.md, Compatibility notes, says why for each).
 */
export function refuseUnsupportedImportOptions(body: object): void {
  for (const key of ['add_to_segments', 'remove_from_segments']) {
    const v = (body as Record<string, unknown>)[key];
    if (v === undefined || v === null || (Array.isArray(v) && v.length === 0)) continue;
    throw badRequest(`field '${key}' is not supported: Salvo has no segments (select an audience with custom_request instead)`);
  }
}

/** Checks one item's data against the database and its subscriptions against their resources. */
export function prepareItem(
  db: Database,
  spec: MatchSpec,
  item: ItemMatch,
  resources: Parameters<typeof normalizeSubscription>[2],
  o: ImportOptions,
  at = 'data',
): PreparedItem {
  return readItem(db, matchKey(spec, item.value, item.name), item.rest, resources, o, at);
}

/** An item of a match already read: its data checked against the database, its subscriptions against their resources. */
function readItem(db: Database, match: MatchKey, data: Record<string, unknown>, resources: Parameters<typeof normalizeSubscription>[2], o: ImportOptions, at: string): PreparedItem {
  const patch = normalizeProfileData(db, data);
  const subscriptions: SubscriptionWrite[] = [];
  const subs = data.subscriptions;
  if (subs !== undefined && !Array.isArray(subs)) throw badRequest(`${at}.subscriptions must be an array`);
  (subs as SubscriptionInput[] | undefined)?.forEach((s, i) => {
    try {
      if (s === null || typeof s !== 'object' || Array.isArray(s)) throw badRequest(`${at}.subscriptions[${i}] must be an object`);
      subscriptions.push(normalizeSubscription(s, `${at}.subscriptions[${i}]`, resources));
    } catch (e) {
      if (!o.skip_invalid_subscriptions) throw e;
    }
  });
  return { match, patch, subscriptions };
}

/**
 * Where an item's data holds its match value, and its data without the keys that are no fields
 * (`profile_id`, `phone`); `name` names the value in errors.
 */
function itemMatchValue(spec: MatchSpec, data: Record<string, unknown>): { value: unknown; name: string; rest: Record<string, unknown> } {
  if (spec.mode === 'profile_id') {
    const { profile_id, ...rest } = data;
    return { value: profile_id, name: 'profile_id', rest };
  }
  if (spec.mode === 'phone') {
    const { phone, ...rest } = data;
    if (phone !== undefined) return { value: phone, name: 'phone', rest };
    return { value: Array.isArray(data.phones) ? data.phones[0] : data.phones, name: 'phones[0]', rest };
  }
  if (spec.mode === 'email') return { value: data.email, name: 'email', rest: data };
  return { value: data[spec.field!.name], name: spec.field!.name, rest: data };
}

/** An item's match: the request's root value (email, phone, profile_id, field_value) when it has one, else the item's own. */
export interface ItemMatch {
  value: unknown;
  /** Names the value in errors: the root key, or its place in the item (`data.email`). */
  name: string;
  /** The item's data without the keys that are no fields. */
  rest: Record<string, unknown>;
}

export function matchValueOf(spec: MatchSpec, data: Record<string, unknown>, root: Record<string, unknown> | undefined, at: string): ItemMatch {
  const own = itemMatchValue(spec, data);
  const key = rootMatchKey(spec.mode);
  const fromRoot = root?.[key];
  if (fromRoot !== undefined) return { value: fromRoot, name: key, rest: own.rest };
  return { value: own.value, name: at ? `${at}.${own.name}` : own.name, rest: own.rest };
}

export function resourceIdsOf(items: Record<string, unknown>[]): number[] {
  const ids: number[] = [];
  for (const d of items) {
    if (!Array.isArray(d.subscriptions)) continue;
    for (const s of d.subscriptions) if (s && isId(s.resource_id)) ids.push(s.resource_id);
  }
  return ids;
}

/**
 * The one profile of a database a request names by its root match value (email, phone, profile_id,
 * field_value): 404 when none matches, 409 when several do. What profiles/get and profiles/delete find.
 */
export async function findOneProfile(store: ProfileStore, db: Database, params: MatchParams & Record<string, unknown>): Promise<Profile> {
  const spec = matchSpec(db, params);
  const name = rootMatchKey(spec.mode);
  const match = matchKey(spec, params[name], name);
  return pickOne(spec, match, await lookupMany(store, db, spec, [match]), db.id, false)!;
}

/** profiles/get: the one profile the request names, with its subscriptions. */
export async function getProfile(store: ProfileStore & Pick<CatalogStore, 'getDatabase'>, dbId: number, params: MatchParams & Record<string, unknown>) {
  const profile = await findOneProfile(store, await loadDatabase(store, dbId), params);
  const subscriptions = await store.getSubscriptions([profile.id]);
  // `id` and `db_id` as Altcraft's profiles/get answers them, beside Salvo's `_id`.
  return { id: profile.id, db_id: profile.db_id, ...profileDocument(profile), subscriptions: subscriptions.map(subscriptionView) };
}

export interface ImportRequest extends ImportOptions {
  db_id: number;
  data: Record<string, unknown>;
  [key: string]: unknown;
}

/**
 * profiles/import (`upsert`) and profiles/update (`update`): the profile the matching finds gets the
 * request's data; the match value is the root one (email, phone, profile_id, field_value) or the data's.
 */
/** What profiles/import, update and import_batch use: the database, the resources subscriptions name, the profiles. */
type ImportStore = Pick<CatalogStore, 'getDatabase' | 'getResources'> & Transactions<ProfileStore>;

export async function importProfile(store: ImportStore, request: ImportRequest, mode: 'upsert' | 'update'): Promise<string> {
  refuseUnsupportedImportOptions(request);
  const db = await loadDatabase(store, request.db_id);
  const spec = matchSpec(db, request);
  const match = matchValueOf(spec, request.data, request, 'data');
  const resources = await store.getResources(resourceIdsOf([match.rest]));
  const item = prepareItem(db, spec, match, resources, request);
  const [result] = await store.transaction((tx) => writeProfilesIn(tx, db, spec, [item], mode, Date.now()));
  if ('error' in result) throw new ApiError(result.error as ApiError['code'], result.error_text);
  return result.profile_id;
}

/** profiles/import_batch: every item matched by its own value, all written in one transaction; one result per item. */
export async function importProfiles(store: ImportStore, request: ImportOptions & { db_id: number; data: Record<string, unknown>[] }): Promise<ItemResult[]> {
  refuseUnsupportedImportOptions(request);
  const db = await loadDatabase(store, request.db_id);
  const spec = matchSpec(db, request);
  const resources = await store.getResources(resourceIdsOf(request.data));
  const itemError = (i: number, e: unknown): ItemResult => {
    if (e instanceof ApiError) return { error: e.code, error_text: `data[${i}]: ${e.text}` };
    throw e;
  };
  const items = request.data.map((data, i): DeferredItem | ItemResult => {
    try {
      const { value, name, rest } = matchValueOf(spec, data, undefined, '');
      const match = matchKey(spec, value, name);
      const read = (): PreparedItem | ItemResult => {
        try {
          return readItem(db, match, rest, resources, request, `data[${i}]`);
        } catch (e) {
          return itemError(i, e);
        }
      };
      return { match, read };
    } catch (e) {
      return itemError(i, e);
    }
  });
  return store.transaction((tx) => writeProfilesIn(tx, db, spec, items, 'upsert', Date.now()));
}
