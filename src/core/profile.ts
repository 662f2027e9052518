/** A profile as written (patch applied), as queried (its MongoDB document) and as indexed. */
import { applyFieldUpdate } from './field-updates.ts';
import { fieldValue, indexKeys, type ProfilePatch } from './fields.ts';
import { md5Hex, xxh64Hex } from './hashes.ts';
import { newProfileId } from './ids.ts';
import type { Database, Profile, Subscription, SubscriptionStatus } from './types.ts';

/** `_regdate` of a profile made at `now`: an import makes thousands at one `now`, so the last one is kept. */
let regdate = { now: Number.NaN, iso: '' };
const regdateOf = (now: number) => {
  if (regdate.now !== now) regdate = { now, iso: new Date(now).toISOString() };
  return regdate.iso;
};

/** Applies a patch to a profile, or creates one when there is none; hashes follow the email. */
export function applyProfilePatch(existing: Profile | null, patch: ProfilePatch, dbId: number, now: number): Profile {
  // A new profile is built as the result directly (no blank profile to spread): an import makes thousands.
  const data: Record<string, unknown> = existing ? { ...existing.data } : { _regdate: regdateOf(now) };
  for (const k of Object.keys(patch.data)) {
    const v = patch.data[k];
    if (v === null) delete data[k];
    else data[k] = v;
  }
  let phones = patch.phones ?? existing?.phones ?? [];
  for (const u of patch.updates ?? []) {
    if (u.field === 'phones') phones = applyFieldUpdate(phones, u) as string[];
    else data[u.field] = applyFieldUpdate(fieldValue(data, u.field), u);
  }
  const email = patch.email === undefined ? (existing?.email ?? null) : patch.email;
  return {
    id: existing ? existing.id : newProfileId(now),
    db_id: existing ? existing.db_id : dbId,
    email,
    phones,
    status: patch.status ?? existing?.status ?? 'active',
    md5: email ? md5Hex(email) : null,
    xxh: email ? xxh64Hex(email) : null,
    data,
    created_at: existing ? existing.created_at : now,
    updated_at: now,
  };
}

/** The document a `custom_request` is evaluated against, and what profiles/get answers. */
/** A profile as the API and templates see it: system fields, then its custom fields by name. */
export interface ProfileDocument {
  _id: string;
  email: string | null;
  phones: string[];
  _status: string;
  _md5: string | null;
  _xxh: string | null;
  [field: string]: unknown;
}

export function profileDocument(p: Profile): ProfileDocument {
  return {
    _id: p.id,
    email: p.email,
    phones: p.phones,
    _status: p.status,
    _md5: p.md5,
    _xxh: p.xxh,
    ...p.data,
  };
}

export interface ProfileKey {
  field: string;
  key: string;
}

/**
 * The side-index rows of a profile: each phone, and each value of the database's indexed custom
 * fields. Email and the hashes are columns of the profile row and indexed there.
 */
export function profileKeys(db: Database, p: Profile): ProfileKey[] {
  const keys: ProfileKey[] = p.phones.map((key) => ({ field: 'phones', key }));
  for (const f of db.fields) {
    if (!f.indexed) continue;
    const value = fieldValue(p.data, f.name);
    // A scalar is its own one key (indexKeys' answer, without a list a field of every profile).
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') keys.push({ field: f.name, key: String(value) });
    else for (const key of indexKeys(value)) keys.push({ field: f.name, key });
  }
  return keys;
}

/** A subscription as the API shows it: the address under the name Altcraft gives it per channel. */
/** A subscription as the API and templates see it: its address under the channel's own key. */
export type SubscriptionView = {
  id: number;
  resource_id: number;
  channel: string;
  email?: string;
  phone?: string;
  provider?: string | null;
  subscription_id?: string;
  /** A browser subscription's public key; its auth secret is never shown. */
  keys?: { p256dh: string };
  /** A messenger subscription's contact (telegram_bot, whatsapp, viber, notify). */
  cc_data?: Record<string, unknown>;
  status: SubscriptionStatus;
  priority: number;
  custom_fields?: Record<string, unknown>;
  cats?: string[];
};

export function subscriptionView(s: Subscription): SubscriptionView {
  const { cc_data, custom_fields, cats } = s.extra ?? {};
  const address =
    s.channel === 'email'
      ? { email: s.address }
      : s.channel === 'sms'
        ? { phone: s.address }
        : s.channel === 'push'
          ? // The auth secret is write-only: with it anyone holding the endpoint could forge this browser's pushes.
            { provider: s.provider, subscription_id: s.address, ...(s.keys ? { keys: { p256dh: s.keys.p256dh } } : {}) }
          : { cc_data: cc_data ?? {} };
  return {
    id: s.id,
    resource_id: s.resource_id,
    channel: s.channel,
    ...address,
    status: s.status,
    priority: s.priority,
    ...(custom_fields ? { custom_fields } : {}),
    ...(cats ? { cats } : {}),
  };
}
