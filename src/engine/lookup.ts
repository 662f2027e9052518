/** Finding profiles by a custom field: through the side index when the field is indexed, else a scan. */
import { fieldHasValue, matchKeys } from '../core/matching.ts';
import type { Database, FieldDef, Profile } from '../core/types.ts';
import type { ProfileStore } from '../store/store.ts';

const SCAN_PAGE = 1000;

/** Every profile of the database, a page at a time. */
export async function* scanDatabase(store: ProfileStore, dbId: number, page = SCAN_PAGE): AsyncGenerator<Profile[]> {
  let after: string | null = null;
  do {
    const { profiles, next } = await store.scanProfiles(dbId, after, page);
    if (profiles.length) yield profiles;
    after = next;
  } while (after !== null);
}

/** Profiles whose field holds `coerced` (see core/matching.ts coerceFieldValue). */
export async function findByField(store: ProfileStore, db: Database, field: FieldDef, coerced: unknown): Promise<Profile[]> {
  if (field.indexed) {
    const keys = matchKeys(coerced);
    const ids = keys.length > 1 ? await store.findProfileIdsWithAllKeys(db.id, field.name, keys) : null;
    const candidates = ids ? await store.getProfiles(ids) : await store.findProfiles(db.id, { key: field.name }, keys);
    return candidates.filter((p) => fieldHasValue(p.data, field, coerced));
  }
  const found: Profile[] = [];
  for await (const page of scanDatabase(store, db.id)) {
    for (const p of page) if (fieldHasValue(p.data, field, coerced)) found.push(p);
  }
  return found;
}
