/**
 * push_subscribe: a browser page or an app hands its push subscriptions to Salvo, authenticated by the
 * resource's public `resource_token` (no API token). Altcraft's "Processing and adding a subscription",
 * https://guides.altcraft.com/en/developer-guide/application-push-notifications/2196103.
 *
 * Decisions where Salvo differs from Altcraft:
 * - Salvo's resources list no databases. The databases processed are `db_ids` when given, else those
 *   of the campaigns sending through the resource; none is a 400 asking for db_ids.
 * - Each database is processed on its own, as Altcraft does (a profile found or created in each), all
 *   in one transaction: a refusal in one database writes nothing in any.
 * - Matching: `profile_id` (the default when `id` is given) finds the profile by id; `custom` finds
 *   it by the custom field `field_name` (a Salvo parameter: Altcraft takes the field from the
 *   resource's settings, which Salvo has not) holding `id`; without `matching` and `id`, the profile
 *   holding one of the subscriptions (this resource's push channel) is found. Not found: a new
 *   profile is created (with the custom value under `custom`; a profile id is never chosen by a client).
 */
import { ApiError, badRequest, conflict, forbidden } from '../core/errors.ts';
import { PROFILE_ID, toId } from '../core/ids.ts';
import { normalizeSubscription, resolveSubscriptionWrites, type SubscriptionWrite } from '../core/subscriptions.ts';
import type { Database, Profile, Resource } from '../core/types.ts';
import type { CampaignStore, CatalogStore, ProfileStore, Transactions } from '../store/store.ts';
import { loadDatabase } from './catalog-entries.ts';
import { matchSpec, prepareItem, saveProfilePatch, writeProfilesIn, type MatchSpec } from './profiles.ts';

/** One subscription as a page sends it; `keys` are a browser's (PushSubscription.toJSON()). */
export interface PushSubscriptionItem {
  provider: string;
  subscription_id: string;
  unsubscribe?: boolean;
  keys?: Record<string, unknown>;
}

export interface PushSubscribeRequest {
  resource_token: string;
  id?: string;
  db_ids?: (number | string)[];
  matching?: string;
  field_name?: string;
  subscriptions: PushSubscriptionItem[];
}

type PushSubscribeStore = Pick<CatalogStore, 'getResourceByToken' | 'getDatabase'> & Pick<CampaignStore, 'databasesOfResourceCampaigns'> & Transactions<ProfileStore>;

/** How the profile is found in each database. */
type Finding = { mode: 'profile_id'; id: string } | { mode: 'custom'; id: string; fieldName: string } | { mode: 'subscription' };

function findingOf(r: PushSubscribeRequest): Finding {
  const matching = r.matching || (r.id ? 'profile_id' : undefined);
  if (matching === undefined) return { mode: 'subscription' };
  if (matching === 'profile_id') {
    if (!r.id || !PROFILE_ID.test(r.id)) throw badRequest("field 'id' must be a 24-hex profile id for matching 'profile_id'");
    return { mode: 'profile_id', id: r.id };
  }
  if (matching === 'custom') {
    if (!r.id) throw badRequest("field 'id' is required for matching 'custom'");
    if (!r.field_name) throw badRequest("field 'field_name' is required for matching 'custom': the custom field that holds id");
    return { mode: 'custom', id: r.id, fieldName: r.field_name };
  }
  throw badRequest(`field 'matching' must be 'custom' or 'profile_id' (or absent), not '${matching}'`);
}

/**
 * The databases processed: those of the campaigns sending through the resource, narrowed by db_ids. db_ids
 * cannot add one: the resource token is public, and must not let a page write profiles into any database.
 */
async function databasesOf(store: PushSubscribeStore, resource: Resource, dbIds: PushSubscribeRequest['db_ids']): Promise<Database[]> {
  const own = await store.databasesOfResourceCampaigns(resource.id);
  if (own.length === 0) throw badRequest(`resource ${resource.id} is used by no campaign's database: add a campaign on it first`);
  const ids = dbIds?.length ? [...new Set(dbIds.map((v, i) => toId(v, `db_ids[${i}]`)))] : own;
  const foreign = ids.find((id) => !own.includes(id));
  if (foreign !== undefined) throw badRequest(`db_ids: database ${foreign} is not a database of resource ${resource.id}'s campaigns (${own.join(', ')})`);
  return Promise.all(ids.map((id) => loadDatabase(store, id)));
}

/** The profile holding one of the subscriptions in the database, or null; several such profiles are a 409. */
async function holderOf(tx: ProfileStore, db: Database, resourceId: number, subs: SubscriptionWrite[]): Promise<Profile | null> {
  const found = new Map<string, Profile>();
  for (const s of subs) for (const p of await tx.findProfilesBySubscription(db.id, 'push', s.address, resourceId)) found.set(p.id, p);
  if (found.size > 1) throw conflict(`the subscriptions belong to ${found.size} profiles in database ${db.id}`);
  return [...found.values()][0] ?? null;
}

/** Finds or creates the profile in one database and writes the subscriptions to it; answers its id. */
async function subscribeIn(tx: ProfileStore, db: Database, spec: MatchSpec | null, finding: Finding, resourceId: number, subs: SubscriptionWrite[], now: number): Promise<string> {
  if (finding.mode === 'custom') {
    // profiles/import's own path: matched by the field, created carrying the value when absent.
    const item = { ...prepareItem(db, spec!, { value: finding.id, name: 'id', rest: {} }, new Map(), {}), subscriptions: subs };
    const [result] = await writeProfilesIn(tx, db, spec!, [item], 'upsert', now);
    if ('error' in result) throw new ApiError(result.error as ApiError['code'], result.error_text);
    return result.profile_id;
  }
  await tx.lockDatabase(db.id); // two pages of one browser at once find, or create, one profile
  const existing = finding.mode === 'profile_id' ? ((await tx.findProfiles(db.id, 'id', [finding.id]))[0] ?? null) : await holderOf(tx, db, resourceId, subs);
  const profile = await saveProfilePatch(tx, db, existing, { data: {} }, now);
  const stored = existing ? await tx.getSubscriptions([profile.id]) : [];
  await tx.saveSubscriptions(resolveSubscriptionWrites(subs.map((s) => ({ ...s, profile_id: profile.id, db_id: db.id })), stored), now);
  return profile.id;
}

/** Answers the profile written in each database, in the order of the databases. */
export async function pushSubscribe(store: PushSubscribeStore, r: PushSubscribeRequest): Promise<{ db_id: number; profile_id: string }[]> {
  const resource = await store.getResourceByToken(r.resource_token);
  if (!resource) throw forbidden('resource_token is not valid');
  const resources = new Map([[resource.id, resource]]);
  const subs = r.subscriptions.map((s, i) =>
    normalizeSubscription(
      { resource_id: resource.id, channel: 'push', provider: s.provider, subscription_id: s.subscription_id, keys: s.keys, status: s.unsubscribe === true ? 'unsubscribed' : 'subscribed' },
      `subscriptions[${i}]`,
      resources,
    ),
  );
  if (subs.length === 0) throw badRequest("field 'subscriptions' must name at least one subscription");
  const finding = findingOf(r);
  const dbs = await databasesOf(store, resource, r.db_ids);
  // A custom field that one database lacks is refused before anything is written.
  const specs = dbs.map((db) => (finding.mode === 'custom' ? matchSpec(db, { matching: 'custom', field_name: finding.fieldName }) : null));
  const now = Date.now();
  return store.transaction(async (tx) => {
    const out: { db_id: number; profile_id: string }[] = [];
    for (const [i, db] of dbs.entries()) out.push({ db_id: db.id, profile_id: await subscribeIn(tx, db, specs[i], finding, resource.id, subs, now) });
    return out;
  });
}
