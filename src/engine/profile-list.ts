/**
 * profiles/list: a database's profiles a page at a time, in id order, optionally narrowed by a MongoDB
 * query (the same whitelist and semantics as custom_request) and cut to the fields asked for.
 */
import { badRequest } from '../core/errors.ts';
import { PROFILE_ID } from '../core/ids.ts';
import { checkQuery, compileQuery } from '../core/mongo-query.ts';
import { profileDocument, subscriptionView } from '../core/profile.ts';
import type { Subscription } from '../core/types.ts';
import type { CatalogStore, ProfileStore } from '../store/store.ts';
import { loadDatabase } from './catalog-entries.ts';

export interface ListRequest {
  db_id: number;
  from_id?: string;
  limit?: number;
  query?: unknown;
  fields?: string[];
}

/** Altcraft's default page. */
const DEFAULT_LIMIT = 1000;
/** Rows one call reads at most when a query is selective; the cursor says where the next call goes on. */
const ROWS_PER_CALL = 10_000;
const READ_PAGE = 1000;

/**
 * One page: `data` the profiles (as profiles/get shows them, or only `fields`), `next_from_id` the id of
 * the last profile read when there may be more (null at the end). A page may hold fewer than `limit`
 * profiles while next_from_id is not null: a selective query reads at most ROWS_PER_CALL rows a call.
 */
export async function listProfiles(store: ProfileStore & Pick<CatalogStore, 'getDatabase'>, r: ListRequest) {
  const db = await loadDatabase(store, r.db_id);
  const from = r.from_id ?? '';
  if (from !== '' && !PROFILE_ID.test(from)) throw badRequest(`field 'from_id' must be the next_from_id of the previous page (a 24-hex profile id) or empty`);
  let test: ((doc: Record<string, unknown>) => boolean) | null = null;
  if (r.query !== undefined && r.query !== null) {
    checkQuery(r.query, 'query');
    test = compileQuery(r.query, 'query');
  }
  const limit = r.limit ?? DEFAULT_LIMIT;
  const found: ReturnType<typeof profileDocument>[] = [];
  let after = from;
  let read = 0;
  let end = false;
  while (!end && found.length < limit && read < ROWS_PER_CALL) {
    const want = test ? READ_PAGE : limit - found.length;
    const page = await store.listProfilesAfter(db.id, after, want);
    for (const p of page) {
      after = p.id;
      read++;
      const doc = profileDocument(p);
      if (!test || test(doc)) found.push(doc);
      if (found.length === limit) break;
    }
    // A short page is the database's end, once every row of it has been looked at.
    end = page.length < want && (page.length === 0 || after === page[page.length - 1].id);
  }
  const wantSubscriptions = !r.fields || r.fields.includes('subscriptions');
  const subscriptions = wantSubscriptions && found.length ? await store.getSubscriptions(found.map((d) => d._id)) : [];
  const byProfile = new Map<string, Subscription[]>();
  for (const s of subscriptions) {
    const own = byProfile.get(s.profile_id);
    if (own) own.push(s);
    else byProfile.set(s.profile_id, [s]);
  }
  const data = found.map((doc) => {
    const subs = (byProfile.get(doc._id) ?? []).map(subscriptionView);
    const whole: Record<string, unknown> = { id: doc._id, db_id: db.id, ...doc, subscriptions: subs };
    if (!r.fields) return whole;
    return Object.fromEntries(['id', ...r.fields].filter((f) => Object.hasOwn(whole, f)).map((f) => [f, whole[f]]));
  });
  return { data, next_from_id: end ? null : after };
}
