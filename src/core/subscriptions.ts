/** Subscriptions as written by profiles/import: checked against the resources they name. */
import { badRequest, notFound } from './errors.ts';
import { normalizeEmail, normalizePhone } from './fields.ts';
import { isId } from './ids.ts';
import { normalizePushKeys, type PushKeys } from './push.ts';
import { CHANNELS, SUBSCRIPTION_STATUSES, type Channel, type Resource, type SubscriptionStatus } from './types.ts';

export interface SubscriptionInput {
  resource_id?: unknown;
  channel?: unknown;
  email?: unknown;
  phone?: unknown;
  provider?: unknown;
  subscription_id?: unknown;
  keys?: unknown;
  status?: unknown;
  priority?: unknown;
}

/** What an import writes; (resource_id, channel, address) identifies a subscription of a profile. */
export interface SubscriptionWrite {
  resource_id: number;
  channel: Channel;
  address: string;
  provider: string | null;
  /** Null keeps the keys a subscription has (a re-import that changes only its status keeps them). */
  keys: PushKeys | null;
  status: SubscriptionStatus;
  priority: number;
}

export function normalizeSubscription(
  input: SubscriptionInput,
  at: string,
  resources: Map<number, Resource>,
): SubscriptionWrite {
  const resourceId = input.resource_id;
  if (!isId(resourceId)) {
    throw badRequest(`${at}.resource_id must be an integer`);
  }
  const resource = resources.get(resourceId);
  if (!resource) throw notFound(`${at}: resource ${resourceId} not found`);
  const channel = input.channel as Channel;
  if (!CHANNELS.includes(channel)) throw badRequest(`${at}.channel must be one of ${CHANNELS.join(', ')}`);
  if (!resource.channels.includes(channel)) {
    throw badRequest(`${at}: resource ${resourceId} has no '${channel}' channel`);
  }
  const status = (input.status ?? 'subscribed') as SubscriptionStatus;
  if (!SUBSCRIPTION_STATUSES.includes(status)) {
    throw badRequest(`${at}.status must be one of ${SUBSCRIPTION_STATUSES.join(', ')}`);
  }
  const priority = input.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority) || Math.abs(priority) > 1_000_000) {
    throw badRequest(`${at}.priority must be an integer from -1000000 to 1000000`);
  }

  let address: string;
  let provider: string | null = null;
  let keys: PushKeys | null = null;
  if (input.keys !== undefined && input.keys !== null && channel !== 'push') throw badRequest(`${at}.keys are only for push subscriptions`);
  if (channel === 'email') {
    address = normalizeEmail(input.email, `${at}.email`);
  } else if (channel === 'sms') {
    address = normalizePhone(input.phone, `${at}.phone`);
  } else {
    if (typeof input.subscription_id !== 'string' || input.subscription_id === '' || input.subscription_id.length > 4096) {
      throw badRequest(`${at}.subscription_id must be a non-empty string`);
    }
    if (typeof input.provider !== 'string' || input.provider === '' || input.provider.length > 64) {
      throw badRequest(`${at}.provider must be a non-empty string (Chrome, Firefox, android-firebase, ios-apns, ...)`);
    }
    address = input.subscription_id;
    provider = input.provider;
    if (input.keys !== undefined && input.keys !== null) {
      keys = normalizePushKeys(input.keys, `${at}.keys`);
      if (!isPushEndpoint(address)) throw badRequest(`${at}.subscription_id must be the push service's endpoint URL (https://...) when keys are given`);
    }
  }
  return { resource_id: resourceId, channel, address, provider, keys, status, priority };
}

/** A browser subscription's endpoint: an absolute http(s) URL (http:// for local push services and tests). */
function isPushEndpoint(address: string): boolean {
  try {
    const u = new URL(address);
    return (u.protocol === 'https:' || u.protocol === 'http:') && u.hostname !== '';
  } catch {
    return false;
  }
}
