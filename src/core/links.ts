/**
 * Altcraft API v1.0 trigger links: `/trg/<key>/<email|md5|xxh>` names one profile by its email, the
 * MD5 of its email or its XXH64; a POST may bring `fields` whose `option` says how each value is used.
 */
import { badRequest } from './errors.ts';
import { fieldValue, normalizeEmail, normalizeProfileData, type ProfilePatch } from './fields.ts';
import { profileDocument } from './profile.ts';
import type { Database, Profile } from './types.ts';

export type LinkTarget = { by: 'email' | 'md5' | 'xxh'; value: string };

/** The last segment of a link: 32 hex is an MD5, 16 hex an XXH64, anything with @ an email. */
export function linkTarget(segment: string): LinkTarget {
  const s = decodeURIComponent(segment).trim();
  if (/^[0-9a-fA-F]{32}$/.test(s)) return { by: 'md5', value: s.toLowerCase() };
  if (/^[0-9a-fA-F]{16}$/.test(s)) return { by: 'xxh', value: s.toLowerCase() };
  if (s.includes('@')) return { by: 'email', value: normalizeEmail(s) };
  throw badRequest(`the link ends with '${s}', which is no email, MD5 (32 hex) or XXH64 (16 hex) of an email`);
}

export interface FieldInput {
  name: string;
  value: unknown;
  option: number;
}

export interface FieldUse {
  /** Values for this message only. */
  overrides: Record<string, unknown> | null;
  /** What option 2 writes to the profile. */
  patch: ProfilePatch | null;
}

const isEmpty = (v: unknown) => v === undefined || v === null || v === '' || (Array.isArray(v) && v.length === 0);

/**
 * option 0: the value is used only where the profile's field is empty (in this message; the database
 * keeps its value); 1: used in this message, the database unchanged; 2: used and written to the
 * database. A name that is no field of the database is ignored; a value of the wrong type is a 400.
 */
export function useFields(db: Database, profile: Profile, fields: FieldInput[]): FieldUse {
  const doc = profileDocument(profile);
  const overrides: Record<string, unknown> = {};
  const patch: ProfilePatch = { data: {} };
  let writes = false;
  fields.forEach((f, i) => {
    if (f.option !== 0 && f.option !== 1 && f.option !== 2) throw badRequest(`fields[${i}].option must be 0, 1 or 2`);
    const one = normalizeProfileData(db, { [f.name]: f.value }, { ignoreUnknown: true });
    const value = f.name === 'email' ? one.email : f.name === 'phones' ? one.phones : f.name === '_status' ? one.status : fieldValue(one.data, f.name);
    if (value === undefined && !Object.hasOwn(one.data, f.name)) return; // not a field of this database
    if (f.option === 0 && !isEmpty(fieldValue(doc, f.name))) return;
    overrides[f.name] = value;
    if (f.option === 2) {
      writes = true;
      if (f.name === 'email') patch.email = one.email;
      else if (f.name === 'phones') patch.phones = one.phones;
      else if (f.name === '_status') patch.status = one.status;
      else patch.data[f.name] = value;
    }
  });
  return { overrides: Object.keys(overrides).length ? overrides : null, patch: writes ? patch : null };
}
