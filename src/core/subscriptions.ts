/**
 * Subscriptions as written by profiles/import and subscriptions/set: Altcraft's subscription object, checked
 * against the resources they name. Its forms: the address flat (`email`, `phone`, `provider` +
 * `subscription_id`) or nested as profiles/add_batch writes it (`email_data`, `push_data`); the messenger
 * channels' `cc_data` (`{"id": chat}` for telegram_bot, `{"phone": ...}` for whatsapp, viber, notify);
 * `status` as a name or its number; `custom_fields` and `cats` kept as given.
 */
import { badRequest, notFound } from './errors.ts';
import { normalizeEmail, normalizePhone } from './fields.ts';
import { isId } from './ids.ts';
import { normalizePushKeys, type PushKeys } from './push.ts';
import { readEnum } from './system-fields.ts';
import { SUBSCRIPTION_CHANNELS, SUBSCRIPTION_STATUSES, type Resource, type Subscription, type SubscriptionChannel, type SubscriptionExtra, type SubscriptionStatus } from './types.ts';

export interface SubscriptionInput {
  resource_id?: unknown;
  channel?: unknown;
  email?: unknown;
  phone?: unknown;
  provider?: unknown;
  subscription_id?: unknown;
  email_data?: unknown;
  push_data?: unknown;
  cc_data?: unknown;
  keys?: unknown;
  status?: unknown;
  priority?: unknown;
  custom_fields?: unknown;
  cats?: unknown;
}

/** What an import writes; (resource_id, channel, address) identifies a subscription of a profile. */
export interface SubscriptionWrite {
  resource_id: number;
  channel: SubscriptionChannel;
  address: string;
  provider: string | null;
  /** Null keeps the keys a subscription has (a re-import that changes only its status keeps them). */
  keys: PushKeys | null;
  /** Null: not given (or -1, Altcraft's "do not change"): a stored subscription keeps its own, a new one is subscribed. */
  status: SubscriptionStatus | null;
  /** Null: not given (or -1): kept, or 0 for a new subscription. */
  priority: number | null;
  /** cc_data, custom_fields, cats; null keeps what the subscription has. */
  extra: SubscriptionExtra | null;
}

/** A subscription as the store writes it: status and priority settled (resolveSubscriptionWrites). */
export type StoredSubscriptionWrite = Omit<SubscriptionWrite, 'status' | 'priority'> & {
  status: SubscriptionStatus;
  priority: number;
  profile_id: string;
  db_id: number;
};

/**
 * What identifies a subscription, as one string: its parts joined by NUL, the address last (a profile id,
 * a number and a channel hold none, so two subscriptions never share a key). Cheaper than a JSON array.
 */
export const subscriptionKey = (s: { profile_id: string; resource_id: number; channel: string; address: string }) =>
  `${s.profile_id}\u0000${s.resource_id}\u0000${s.channel}\u0000${s.address}`;

/**
 * Settles what writes leave unsaid: a status or priority not given keeps the stored subscription's (or an
 * earlier write's of the same list), and a new subscription is subscribed with priority 0. So re-importing a
 * profile from a CRM never re-subscribes someone who unsubscribed. The writes are settled in place (each
 * caller makes them for this call) and answered.
 */
export function resolveSubscriptionWrites(writes: (SubscriptionWrite & { profile_id: string; db_id: number })[], stored: Subscription[]): StoredSubscriptionWrite[] {
  const latest = new Map<string, { status: SubscriptionStatus | null; priority: number | null }>();
  for (const s of stored) latest.set(subscriptionKey(s), s);
  for (const w of writes) {
    const key = subscriptionKey(w);
    const before = latest.get(key);
    w.status ??= before?.status ?? 'subscribed';
    w.priority ??= before?.priority ?? 0;
    latest.set(key, w);
  }
  return writes as StoredSubscriptionWrite[];
}

/** A subscription status as written: a name (any case) or its number in SUBSCRIPTION_STATUSES' order; -1 is "not given". */
function readSubscriptionStatus(value: unknown, at: string): SubscriptionStatus | null {
  if (value === undefined || value === null || value === -1 || value === '-1') return null;
  return readEnum(value, SUBSCRIPTION_STATUSES, SUBSCRIPTION_STATUSES, `${field(at, 'status')}`);
}

const MAX_EXTRA_JSON = 16_384;
/** A key's name in errors: under `at` (data.subscriptions[0].email), or bare for a request that is one subscription (subscriptions/set). */
const field = (at: string, key: string) => (at ? `${at}.${key}` : key);
const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** custom_fields, cats and cc_data as given (bounded), or null when none is. */
function readExtra(input: SubscriptionInput, at: string, ccData: Record<string, unknown> | null): SubscriptionExtra | null {
  // Most subscriptions carry none of them: no object to make and count.
  if ((input.custom_fields === undefined || input.custom_fields === null) && (input.cats === undefined || input.cats === null) && !ccData) return null;
  const extra: SubscriptionExtra = {};
  if (input.custom_fields !== undefined && input.custom_fields !== null) {
    if (!isObject(input.custom_fields)) throw badRequest(`${field(at, 'custom_fields')} must be an object`);
    extra.custom_fields = input.custom_fields;
  }
  if (input.cats !== undefined && input.cats !== null) {
    const cats = input.cats;
    if (!Array.isArray(cats) || cats.length > 100 || cats.some((c) => typeof c !== 'string' || c === '' || c.length > 256)) {
      throw badRequest(`${field(at, 'cats')} must be a list of at most 100 category names`);
    }
    extra.cats = [...new Set(cats as string[])];
  }
  if (ccData) extra.cc_data = ccData;
  if (Object.keys(extra).length === 0) return null;
  if (JSON.stringify(extra).length > MAX_EXTRA_JSON) throw badRequest(`${at || 'subscription'}: custom_fields, cats and cc_data are larger than ${MAX_EXTRA_JSON} bytes as JSON`);
  return extra;
}

/** The address of a messenger subscription from its cc_data: the chat id for telegram_bot, the phone for the others. */
function messengerAddress(channel: SubscriptionChannel, cc: unknown, at: string): { address: string; cc: Record<string, unknown> } {
  if (!isObject(cc)) throw badRequest(`${field(at, 'cc_data')} must be an object: {"id": <chat id>} for telegram_bot, {"phone": "+79000000000"} for ${channel === 'telegram_bot' ? 'whatsapp, viber and notify' : channel}`);
  if (channel === 'telegram_bot') {
    const id = cc.id;
    if (!((typeof id === 'number' && Number.isSafeInteger(id)) || (typeof id === 'string' && /^-?\d{1,20}$/.test(id)))) throw badRequest(`${field(at, 'cc_data.id')} must be the Telegram chat id (an integer)`);
    return { address: String(id), cc };
  }
  const phone = normalizePhone(cc.phone, `${field(at, 'cc_data.phone')}`);
  return { address: phone, cc: { ...cc, phone } };
}

export function normalizeSubscription(
  input: SubscriptionInput,
  at: string,
  resources: Map<number, Resource>,
): SubscriptionWrite {
  const resourceId = input.resource_id;
  if (!isId(resourceId)) {
    throw badRequest(`${field(at, 'resource_id')} must be an integer`);
  }
  const resource = resources.get(resourceId);
  if (!resource) throw notFound(`${at || 'subscription'}: resource ${resourceId} not found`);
  const channel = input.channel as SubscriptionChannel;
  if (!SUBSCRIPTION_CHANNELS.includes(channel)) throw badRequest(`${field(at, 'channel')} must be one of ${SUBSCRIPTION_CHANNELS.join(', ')}`);
  if (!resource.channels.includes(channel)) {
    throw badRequest(`${at || 'subscription'}: resource ${resourceId} has no '${channel}' channel`);
  }
  const status = readSubscriptionStatus(input.status, at);
  const priority = input.priority === undefined || input.priority === null || input.priority === -1 ? null : input.priority;
  if (priority !== null && (typeof priority !== 'number' || !Number.isInteger(priority) || Math.abs(priority) > 1_000_000)) {
    throw badRequest(`${field(at, 'priority')} must be an integer from -1000000 to 1000000 (-1: do not change)`);
  }
  // profiles/add_batch nests the address: {"email_data": {"email": ...}}; profiles/get shows push_data alike.
  const nested = channel === 'email' ? input.email_data : channel === 'push' ? input.push_data : undefined;
  if (nested !== undefined && nested !== null && !isObject(nested)) throw badRequest(`${field(at, `${channel}_data`)} must be an object`);
  const given = isObject(nested) ? { ...nested, ...input } : input;

  let address: string;
  let provider: string | null = null;
  let keys: PushKeys | null = null;
  let cc: Record<string, unknown> | null = null;
  if (input.keys !== undefined && input.keys !== null && channel !== 'push') throw badRequest(`${field(at, 'keys')} are only for push subscriptions`);
  if (input.cc_data !== undefined && input.cc_data !== null && (channel === 'email' || channel === 'sms' || channel === 'push')) {
    throw badRequest(`${field(at, 'cc_data')} is only for telegram_bot, whatsapp, viber and notify subscriptions`);
  }
  if (channel === 'email') {
    address = normalizeEmail(given.email, `${field(at, 'email')}`);
  } else if (channel === 'sms') {
    address = normalizePhone(input.phone, `${field(at, 'phone')}`);
  } else if (channel !== 'push') {
    ({ address, cc } = messengerAddress(channel, input.cc_data, at));
  } else {
    if (typeof given.subscription_id !== 'string' || given.subscription_id === '' || given.subscription_id.length > 4096) {
      throw badRequest(`${field(at, 'subscription_id')} must be a non-empty string`);
    }
    if (typeof given.provider !== 'string' || given.provider === '' || given.provider.length > 64) {
      throw badRequest(`${field(at, 'provider')} must be a non-empty string (Chrome, Firefox, android-firebase, ios-apns, ...)`);
    }
    address = given.subscription_id;
    provider = given.provider;
    if (input.keys !== undefined && input.keys !== null) {
      keys = normalizePushKeys(input.keys, `${field(at, 'keys')}`);
      if (!isPushEndpoint(address)) throw badRequest(`${field(at, 'subscription_id')} must be the push service's endpoint URL (https://...) when keys are given`);
    }
  }
  return { resource_id: resourceId, channel, address, provider, keys, status, priority, extra: readExtra(input, at, cc) };
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
