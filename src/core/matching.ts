/**
 * How a request names a profile: the matching modes a method takes, the root key holding the value,
 * and, for a custom field, the value read as the field's type and the test.
 */
import { badRequest } from './errors.ts';
import { fieldValue, normalizeDate, normalizeTags } from './fields.ts';
import type { FieldDef } from './types.ts';

/** Matching of the launch methods (campaigns/triggers/start, start_batch). */
export const START_MATCHING = ['email', 'email_profile', 'email_sub', 'phone', 'phone_sub', 'profile_id', 'custom', 'push_sub'] as const;
export type StartMatching = (typeof START_MATCHING)[number];

/** Matching of the methods that find or write a profile (profiles/*, import_and_start). */
const PROFILE_MATCHING = ['email', 'phone', 'profile_id', 'custom'] as const;
export type ProfileMatching = (typeof PROFILE_MATCHING)[number];

/** A launch's `matching`, email when absent. */
export function startMatching(v: unknown): StartMatching {
  const mode = (v ?? 'email') as StartMatching;
  if (!START_MATCHING.includes(mode)) throw badRequest(`field 'matching' must be one of ${START_MATCHING.join(', ')}`);
  return mode;
}

/** A profile method's `matching`, email when absent. */
export function profileMatching(v: string | undefined): ProfileMatching {
  const mode = (v ?? 'email') as ProfileMatching;
  if (!PROFILE_MATCHING.includes(mode)) throw badRequest(`matching must be one of ${PROFILE_MATCHING.join(', ')} here, not '${v}'`);
  return mode;
}

/** The key at a request's root that holds the value a profile is matched by: the mode's name, `field_value` for custom. */
export const rootMatchKey = (mode: ProfileMatching): 'email' | 'phone' | 'profile_id' | 'field_value' => (mode === 'custom' ? 'field_value' : mode);

/**
 * `field_value` arrives as "int/string": read it as the field's type ("123420" matches an int field
 * holding 123420). On a tag field "tag-1, tag-2" names every tag the profile must have.
 */
export function coerceFieldValue(field: FieldDef, value: unknown, name = 'field_value'): unknown {
  if (value === null || value === undefined || (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean')) {
    throw badRequest(`${name} must be a string or a number`);
  }
  switch (field.type) {
    case 'int': {
      const n = typeof value === 'number' ? value : Number(value);
      if (!Number.isSafeInteger(n) || String(value).trim() === '') throw badRequest(`${name} must be an integer for int field '${field.name}'`);
      return n;
    }
    case 'bool':
      if (value === true || value === 'true') return true;
      if (value === false || value === 'false') return false;
      throw badRequest(`${name} must be true or false for bool field '${field.name}'`);
    case 'date':
      return normalizeDate(String(value), name);
    case 'tags': {
      const tags = normalizeTags(String(value), name);
      if (tags.length === 0) throw badRequest(`${name} names no tag`);
      return tags;
    }
    case 'json':
      throw badRequest(`field '${field.name}' is a json field and cannot be matched on`);
    default:
      return String(value);
  }
}

/** Does the profile's field hold the (coerced) value? For tags: every tag named. */
export function fieldHasValue(data: Record<string, unknown>, field: FieldDef, coerced: unknown): boolean {
  const have = fieldValue(data, field.name);
  if (field.type === 'tags') return Array.isArray(have) && (coerced as string[]).every((t) => have.includes(t));
  return have === coerced;
}

/** The side-index keys that find candidates for the value (all of them must be present). */
export const matchKeys = (coerced: unknown): string[] => (Array.isArray(coerced) ? coerced.map(String) : [String(coerced)]);
