/**
 * Altcraft's profile data object: the system fields every database has, and the value forms each accepts.
 * Altcraft's own pages disagree on some forms ("Profile data object" writes `_sex: 0`, `_status: 0` and
 * `_postal_code` as an int; "Types of fields in the database" writes `_sex: "male"` and strings), and real
 * clients send dates as epoch numbers: every form is read, and one canonical form is kept (docs/api.md,
 * Compatibility notes, has the mapping).
 */
import { isIP } from 'node:net';
import { badRequest } from './errors.ts';
import { PROFILE_STATUSES, type ProfileStatus } from './types.ts';

/** How a system field's value is read; `date` fields share custom date fields' reading (fields.ts). */
export type SystemFieldKind = 'string' | 'date' | 'ip' | 'sex' | 'tz' | 'postal_code';

export interface SystemField {
  name: string;
  /** The type databases/fields shows. */
  type: 'string' | 'date' | 'phones' | 'int';
  kind?: SystemFieldKind;
  indexed: boolean;
  read_only?: true;
}

/**
 * Every system field, in the order databases/fields lists them. `email`, `phones` and `_status` have
 * columns of their own; `_id`, `_md5`, `_xxh` are derived; the rest live in the profile's data.
 */
export const SYSTEM_FIELDS: readonly SystemField[] = [
  { name: '_id', type: 'string', indexed: true, read_only: true },
  { name: 'email', type: 'string', indexed: true },
  { name: 'phones', type: 'phones', indexed: true },
  { name: '_fname', type: 'string', kind: 'string', indexed: false },
  { name: '_lname', type: 'string', kind: 'string', indexed: false },
  { name: '_bdate', type: 'date', kind: 'date', indexed: false },
  { name: '_sex', type: 'string', kind: 'sex', indexed: false },
  { name: '_status', type: 'string', indexed: false },
  { name: '_regdate', type: 'date', kind: 'date', indexed: false },
  { name: '_regip', type: 'string', kind: 'ip', indexed: false },
  { name: '_regcity', type: 'string', kind: 'string', indexed: false },
  { name: '_regcountry', type: 'string', kind: 'string', indexed: false },
  { name: '_regurl', type: 'string', kind: 'string', indexed: false },
  { name: '_ip', type: 'string', kind: 'ip', indexed: false },
  { name: '_city', type: 'string', kind: 'string', indexed: false },
  { name: '_country', type: 'string', kind: 'string', indexed: false },
  { name: '_region', type: 'string', kind: 'string', indexed: false },
  { name: '_postal_code', type: 'string', kind: 'postal_code', indexed: false },
  { name: '_tz', type: 'string', kind: 'tz', indexed: false },
  { name: '_os', type: 'string', kind: 'string', indexed: false },
  { name: '_browser', type: 'string', kind: 'string', indexed: false },
  { name: '_vendor', type: 'string', kind: 'string', indexed: false },
  { name: '_md5', type: 'string', indexed: true, read_only: true },
  { name: '_xxh', type: 'string', indexed: true, read_only: true },
];

const BY_NAME = new Map(SYSTEM_FIELDS.map((f) => [f.name, f]));

export const systemField = (name: string): SystemField | undefined => BY_NAME.get(name);

/**
 * `_sex` as a name, or as Altcraft's "Profile data object" number. Altcraft publishes no table of the
 * numbers; Salvo reads them as ISO/IEC 5218 does: 0 not known (clears the field), 1 male, 2 female.
 */
export function readSex(value: unknown): 'male' | 'female' | null {
  const v = typeof value === 'string' ? value.trim().toLowerCase() : value;
  if (v === 'male' || v === 1 || v === '1') return 'male';
  if (v === 'female' || v === 2 || v === '2') return 'female';
  if (v === 0 || v === '0' || v === '') return null;
  throw badRequest(`field '_sex' must be 'male' or 'female', or 0 (not known), 1 (male), 2 (female); got ${JSON.stringify(value) ?? 'nothing'}`);
}

export function readIp(value: unknown, name: string): string {
  if (typeof value !== 'string' || isIP(value.trim()) === 0) throw badRequest(`field '${name}' must be an IPv4 or IPv6 address; got ${JSON.stringify(value) ?? 'nothing'}`);
  return value.trim();
}

/** A time zone as an IANA name (`Europe/Moscow`), as Intl knows them. */
export function readTimeZone(value: unknown): string {
  if (typeof value === 'string' && value.trim() !== '' && value.length <= 64) {
    try {
      return new Intl.DateTimeFormat('en', { timeZone: value.trim() }).resolvedOptions().timeZone;
    } catch {
      // not a zone Intl knows: refused below
    }
  }
  throw badRequest(`field '_tz' must be an IANA time zone name such as "Europe/Moscow"; got ${JSON.stringify(value) ?? 'nothing'}`);
}

/** A postal code is kept as a string (leading zeros matter); Altcraft's table types it int, so a number is read too. */
export function readPostalCode(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value);
  if (typeof value === 'string' && value.trim() !== '' && value.length <= 32) return value.trim();
  throw badRequest(`field '_postal_code' must be a string or a non-negative integer; got ${JSON.stringify(value) ?? 'nothing'}`);
}

/**
 * The global status as numbers Altcraft's clients and exports write. Altcraft publishes no table of them
 * (its "Profile data object" shows `0` for an active profile); Salvo's reading is this one.
 */
const STATUS_NUMBERS: readonly ProfileStatus[] = ['active', 'unsubscribed', 'suspended', 'complainer', 'invalid'];

/** `_status` as written: a status name (any case), or its number (or numeric string). */
export function readProfileStatus(value: unknown): ProfileStatus {
  return readEnum(value, PROFILE_STATUSES, STATUS_NUMBERS, "field '_status'");
}

/**
 * A name from `names` (any case), or its number in `numbered` (a number or a numeric string): how Altcraft's
 * statuses arrive. `what` names the value in the 400, which lists both forms.
 */
export function readEnum<T extends string>(value: unknown, names: readonly T[], numbered: readonly T[], what: string): T {
  if (typeof value === 'string' && (names as readonly string[]).includes(value.trim().toLowerCase())) return value.trim().toLowerCase() as T;
  const n = typeof value === 'number' ? value : typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (Number.isInteger(n) && n >= 0 && n < numbered.length) return numbered[n];
  const numbers = numbered.map((st, i) => `${i} ${st}`).join(', ');
  throw badRequest(`${what} must be one of ${names.join(', ')}, or its number (${numbers}); got ${JSON.stringify(value) ?? 'nothing'}`);
}

/** A subscription field as resources/fields_get lists it (Altcraft's shape). */
export interface SubscriptionFieldInfo {
  category: 'system' | 'custom';
  title: string;
  name: string;
  required: boolean;
  type: 'unicode' | 'int' | 'bool' | 'version';
  dictionary?: string;
}

const pushField = (name: string, title: string, type: SubscriptionFieldInfo['type'] = 'unicode', dictionary?: string): SubscriptionFieldInfo => ({
  category: 'system',
  title,
  name,
  required: false,
  type,
  ...(dictionary ? { dictionary } : {}),
});

/**
 * The system fields of a push subscription's custom_fields, as Altcraft's resources/fields_get lists them
 * (and its Android SDK sends). Salvo keeps custom_fields as given; this list tells clients the names.
 */
export const PUSH_SUBSCRIPTION_FIELDS: readonly SubscriptionFieldInfo[] = [
  pushField('_device_type', 'Device type', 'unicode', 'devices'),
  pushField('_device_model', 'Device model'),
  pushField('_device_name', 'Device name'),
  pushField('_os', 'Platform', 'unicode', 'oses'),
  pushField('_os_ver', 'Platform version', 'version'),
  pushField('_os_tz', 'Platform time zone', 'unicode', 'tz'),
  pushField('_os_language', 'Platform language', 'unicode', 'languages'),
  pushField('_ad_track', 'Ad tracking allowed', 'bool'),
  pushField('_ad_id', 'Ad identifier'),
  pushField('_app_id', 'Application ID'),
  pushField('_app_iid', 'Application installation ID'),
  pushField('_app_ver', 'Application version', 'version'),
  pushField('_browser_name', 'Browser name'),
];
