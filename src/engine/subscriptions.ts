/** subscriptions/set and resources/fields_get: one subscription of one profile, and what fields subscriptions have. */
import { badRequest, notFound } from '../core/errors.ts';
import { PROFILE_ID } from '../core/ids.ts';
import { subscriptionView } from '../core/profile.ts';
import { normalizeSubscription, resolveSubscriptionWrites, type SubscriptionInput } from '../core/subscriptions.ts';
import { PUSH_SUBSCRIPTION_FIELDS, type SubscriptionFieldInfo } from '../core/system-fields.ts';
import type { SubscriptionChannel } from '../core/types.ts';
import type { CatalogStore, ProfileStore, Transactions } from '../store/store.ts';
import { loadDatabase, loadResource } from './catalog-entries.ts';

export interface SetSubscriptionRequest extends SubscriptionInput {
  db_id: number;
  profile_id: string;
}

type SetStore = Pick<CatalogStore, 'getDatabase' | 'getResources'> & Transactions<ProfileStore>;

/**
 * Adds the subscription the request describes to the profile, or changes it: status, priority,
 * custom_fields and cats given are written, the rest kept (as profiles/import writes subscriptions).
 * Answers the subscription as it now stands.
 */
export async function setSubscription(store: SetStore, r: SetSubscriptionRequest) {
  const db = await loadDatabase(store, r.db_id);
  if (!PROFILE_ID.test(r.profile_id)) throw badRequest(`field 'profile_id' must be a 24-hex profile id`);
  const resources = await store.getResources(typeof r.resource_id === 'number' ? [r.resource_id] : []);
  const write = normalizeSubscription(r, '', resources);
  return store.transaction(async (tx) => {
    const [profile] = await tx.getProfiles([r.profile_id]);
    if (!profile || profile.db_id !== db.id) throw notFound(`profile ${r.profile_id} not found in database ${db.id}`);
    const stored = await tx.getSubscriptions([profile.id]);
    await tx.saveSubscriptions(resolveSubscriptionWrites([{ ...write, profile_id: profile.id, db_id: db.id }], stored), Date.now());
    const now = (await tx.getSubscriptions([profile.id])).find((s) => s.resource_id === write.resource_id && s.channel === write.channel && s.address === write.address);
    return subscriptionView(now!);
  });
}

/** resources/fields_get: the subscription fields of a resource's channel (system ones; custom_fields are free-form). */
export async function subscriptionFields(store: Pick<CatalogStore, 'getResource'>, id: number, channel: string): Promise<SubscriptionFieldInfo[]> {
  const resource = await loadResource(store, id);
  if (!resource.channels.includes(channel as SubscriptionChannel)) throw badRequest(`resource ${id} has no '${channel}' channel (it has ${resource.channels.join(', ')})`);
  return channel === 'push' ? [...PUSH_SUBSCRIPTION_FIELDS] : [];
}
