/**
 * Profile fields: the system fields every database has, the typed custom fields a database declares,
 * and the normalisation of values written to them. Pure: callers pass the database they write to.
 */
import { badRequest } from './errors.ts';
import { checkFieldUpdate, type FieldUpdate, isUpdateFunction, MAX_VALUE_CHARS, updateAction } from './field-updates.ts';
import { readIp, readPostalCode, readProfileStatus, readSex, readTimeZone, type SystemField, systemField } from './system-fields.ts';
import { FIELD_TYPES, type Database, type FieldDef, type FieldType, type ProfileStatus } from './types.ts';

const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
/** Names a custom field may not take: system fields, and what the API puts beside fields. */
const RESERVED = new Set(['email', 'phones', 'subscriptions', 'profile_id', 'id', 'db_id', 'tags_all']);

/** Checks a database's field list as given to databases/add; `path` names it in errors. */
export function checkFieldDefs(fields: { name: string; type: string; indexed?: boolean }[], path = 'fields'): FieldDef[] {
  const seen = new Set<string>();
  return fields.map((f, i) => {
    const at = `${path}[${i}]`;
    if (systemField(f.name)) throw badRequest(`${at}.name '${f.name}' is a system field: every database has it (databases/fields lists them)`);
    if (!FIELD_NAME.test(f.name) || RESERVED.has(f.name)) {
      throw badRequest(
        `${at}.name '${f.name}' is not allowed: a custom field name starts with a letter, has only letters, digits and '_', at most 64 characters, and is not one of ${[...RESERVED].join(', ')}`,
      );
    }
    if (seen.has(f.name.toLowerCase())) throw badRequest(`${at}.name '${f.name}' is given twice`);
    seen.add(f.name.toLowerCase());
    if (!(FIELD_TYPES as readonly string[]).includes(f.type)) {
      throw badRequest(`${at}.type '${f.type}' is not a field type (${FIELD_TYPES.join(', ')})`);
    }
    const indexed = f.indexed === true;
    if (indexed && f.type === 'json') throw badRequest(`${at}: a json field cannot be indexed`);
    return { name: f.name, type: f.type as FieldType, indexed };
  });
}

const EMAIL = /^[^\s@<>(),;:"\\[\]]+@[^\s@<>(),;:"\\[\]]+\.[^\s@<>(),;:"\\[\]]+$/;

export function normalizeEmail(value: unknown, name = 'email'): string {
  if (typeof value !== 'string') throw badRequest(`field '${name}' must be a string`);
  const email = value.trim().toLowerCase();
  if (email.length > 254 || !EMAIL.test(email)) throw badRequest(`field '${name}' is not a valid email: '${value}'`);
  return email;
}

/**
 * Phones are kept in E.164: '+' and 7 to 15 digits. Spaces, dashes, dots and parentheses are dropped;
 * a number without '+' is read as already international ("79000000000" is "+79000000000").
 */
export function normalizePhone(value: unknown, name = 'phone'): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw badRequest(`field '${name}' must be a string`);
  const cleaned = String(value).trim().replace(/[\s\-().]/g, '');
  const plus = cleaned.startsWith('+');
  const digits = plus ? cleaned.slice(1) : cleaned;
  if (!/^[1-9][0-9]{6,14}$/.test(digits)) {
    throw badRequest(`field '${name}' is not a valid phone number in international format (+79000000000): '${value}'`);
  }
  return plus ? cleaned : '+' + digits;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;

/** Epoch numbers below this are seconds (1e11 s is the year 5138), at or above it milliseconds (1e11 ms is 1973). */
const EPOCH_MS_FROM = 1e11;

/**
 * A date field keeps 'YYYY-MM-DD' when given a date, or an ISO UTC timestamp when given a time: RFC 3339
 * with or without seconds ("2001-12-31T00:00+03:00", as Altcraft's field-types page writes it), or epoch
 * seconds or milliseconds as a number (what client code holding a Java Long sends).
 */
export function normalizeDate(value: unknown, name: string): string {
  if (typeof value === 'number') {
    const ms = Math.abs(value) < EPOCH_MS_FROM ? value * 1000 : value;
    if (Number.isFinite(ms) && Math.abs(ms) <= 8.64e15) return new Date(ms).toISOString();
    throw badRequest(`field '${name}' is not a valid date: ${value} is no epoch time in seconds or milliseconds`);
  }
  if (typeof value !== 'string') throw badRequest(`field '${name}' must be a date (YYYY-MM-DD, RFC 3339, or epoch seconds or milliseconds)`);
  const m = DATE_ONLY.exec(value);
  if (m) {
    const d = new Date(Date.UTC(+m[1], +m[2] - 1, +m[3]));
    if (d.getUTCFullYear() === +m[1] && d.getUTCMonth() === +m[2] - 1 && d.getUTCDate() === +m[3]) return value;
  } else if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(value)) {
    const t = Date.parse(value);
    if (!Number.isNaN(t)) return new Date(t).toISOString();
  }
  throw badRequest(`field '${name}' is not a valid date (YYYY-MM-DD, RFC 3339, or epoch seconds or milliseconds): '${value}'`);
}

/** Tags arrive as a list or as Altcraft's "tag-1, tag-2" string; kept trimmed, unique, in order. */
export function normalizeTags(value: unknown, name: string): string[] {
  const list = typeof value === 'string' ? value.split(',') : value;
  if (!Array.isArray(list) || list.some((t) => typeof t !== 'string')) {
    throw badRequest(`field '${name}' must be a list of strings or a "tag-1, tag-2" string`);
  }
  const tags = [...new Set((list as string[]).map((t) => t.trim()).filter((t) => t !== ''))];
  if (tags.some((t) => t.length > 256)) throw badRequest(`field '${name}' has a tag longer than 256 characters`);
  return tags;
}

const MAX_STRING = MAX_VALUE_CHARS;

/** Checks and normalises one value for a field of the given type; null clears the field. */
function normalizeValue(type: FieldType, value: unknown, name: string): unknown {
  if (value === null) return null;
  switch (type) {
    case 'string':
      if (typeof value !== 'string') throw badRequest(`field '${name}' must be a string`);
      if (value.length > MAX_STRING) throw badRequest(`field '${name}' is longer than ${MAX_STRING} characters`);
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw badRequest(`field '${name}' must be an integer`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean') throw badRequest(`field '${name}' must be true or false`);
      return value;
    case 'date':
      return normalizeDate(value, name);
    case 'tags':
      return normalizeTags(value, name);
    case 'json':
      if (JSON.stringify(value).length > MAX_STRING) throw badRequest(`field '${name}' is larger than ${MAX_STRING} bytes as JSON`);
      return value;
  }
}

/** What a write to a profile changes; `undefined` means "not given", null means "clear". */
export interface ProfilePatch {
  email?: string | null;
  phones?: string[];
  status?: ProfileStatus;
  data: Record<string, unknown>;
  /** Update functions applied to the stored values after `data` (incr, add, delete, upsert). */
  updates?: FieldUpdate[];
}


/** A system field's value as written, in its canonical form; null clears it. */
function systemValue(f: SystemField, value: unknown): unknown {
  if (value === null) return null;
  switch (f.kind) {
    case 'sex':
      return readSex(value);
    case 'ip':
      return readIp(value, f.name);
    case 'tz':
      return readTimeZone(value);
    case 'postal_code':
      return readPostalCode(value);
    case 'date':
      return normalizeDate(value, f.name);
    default:
      return normalizeValue('string', value, f.name);
  }
}

/**
 * A field's value in profile data. Own properties only: a custom field may be named `toString` or
 * `constructor`, which every plain object also inherits.
 */
export const fieldValue = (data: Record<string, unknown>, name: string): unknown => (Object.hasOwn(data, name) ? data[name] : undefined);

export function findField(db: Database, name: string): FieldDef | undefined {
  return db.fields.find((f) => f.name === name);
}

/**
 * Turns profile data from a request into a patch for the given database. `subscriptions` is not a
 * field and is skipped here (see core/subscriptions.ts). Unknown names are refused unless
 * `ignoreUnknown` (the v1.0 link ignores them, as Altcraft does). A value may be an update function
 * (core/field-updates.ts): `set` and `unset` become plain writes, the others updates of the stored value.
 */
export function normalizeProfileData(
  db: Database,
  input: Record<string, unknown>,
  { ignoreUnknown = false } = {},
): ProfilePatch {
  const patch: ProfilePatch = { data: {} };
  // Object.keys, not entries: an import reads thousands of items, and entries made an array a field.
  for (const name of Object.keys(input)) {
    if (name === 'subscriptions') continue;
    const given = input[name];
    const system = systemField(name);
    const field = system ? null : findField(db, name);
    if (!system && !field) {
      if (ignoreUnknown) continue;
      throw badRequest(`field '${name}' is not a field of database ${db.id}`);
    }
    let value = given;
    if (isUpdateFunction(given)) {
      const action = updateAction(name, given.action);
      if (action === 'set') {
        if (given.value === undefined) throw badRequest(`field '${name}': set needs 'value'`);
        value = given.value;
      } else if (action === 'unset') {
        if (name === 'email' || name === '_status') throw badRequest(`field '${name}' cannot be unset`);
        value = null;
      } else {
        const type = name === 'phones' ? 'phones' : (field?.type ?? null);
        const list = (v: unknown) => (type === 'phones' ? phoneList(v) : normalizeTags(v, name));
        patch.updates = [...(patch.updates ?? []), checkFieldUpdate(name, type, { ...given, action }, list)];
        continue;
      }
    }
    if (name === 'email') {
      patch.email = value === null || value === '' ? null : normalizeEmail(value);
    } else if (name === 'phones') {
      patch.phones = phoneList(value);
    } else if (name === '_status') {
      patch.status = readProfileStatus(value);
    } else if (system?.read_only) {
      throw badRequest(`field '${name}' is read-only`);
    } else if (system) {
      patch.data[name] = systemValue(system, value);
    } else {
      patch.data[name] = normalizeValue(field!.type, value, name);
    }
  }
  return patch;
}

/** The phone list as written: one phone or a list, each normalised, each once. */
function phoneList(value: unknown): string[] {
  const list = value === null ? [] : Array.isArray(value) ? value : [value];
  // A loop, not a Set: a profile has a phone or two, and an import reads thousands.
  const phones: string[] = [];
  for (let i = 0; i < list.length; i++) {
    const phone = normalizePhone(list[i], `phones[${i}]`);
    if (!phones.includes(phone)) phones.push(phone);
  }
  return phones;
}

/** The index keys of one value: a tag field is found by each of its tags. */
export function indexKeys(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  if (Array.isArray(value)) return value.flatMap(indexKeys);
  if (typeof value === 'object') return [];
  return [String(value)];
}
