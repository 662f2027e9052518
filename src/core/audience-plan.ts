/**
 * How a `custom_request` audience is read: through an index when the query pins an indexed field to
 * one value or a list of values ({f: v}, {f: {$eq: v}}, {f: {$in: [...]}}, {f: {$all: [...]}},
 * also inside a top-level $and), otherwise by scanning the database. Either way every candidate is
 * then tested against the whole query, so the index only narrows and never changes the answer.
 */
import { compileQuery, type MongoQuery, type Predicate } from './mongo-query.ts';
import type { Database } from './types.ts';

type Lookup = 'id' | 'email' | 'md5' | 'xxh' | { key: string };

/**
 * `keys`: read through an index. `scan`: read the database in pages; `only`, when the query pins an
 * unindexed scalar custom field, lets the store skip rows whose field has none of the values.
 */
export type AudiencePlan =
  | { kind: 'keys'; field: string; lookup: Lookup; keys: string[] }
  | { kind: 'scan'; only?: { field: string; values: (string | number | boolean)[] } };

/** Profile-document fields with an index, and how the store looks them up. */
function indexedLookup(db: Database, field: string): Lookup | null {
  switch (field) {
    case '_id':
      return 'id';
    case 'email':
      return 'email';
    case '_md5':
      return 'md5';
    case '_xxh':
      return 'xxh';
    case 'phones':
      return { key: 'phones' };
  }
  return db.fields.some((f) => f.indexed && f.name === field) ? { key: field } : null;
}

const isScalar = (v: unknown): v is string | number | boolean => typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
const isOperators = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).some((k) => k.startsWith('$'));

/** The values a condition pins a field to, or null when it does not pin it to a finite set. */
function pinnedValues(cond: unknown): (string | number | boolean)[] | null {
  if (isScalar(cond)) return [cond];
  if (!isOperators(cond)) return null;
  if (isScalar(cond.$eq)) return [cond.$eq];
  if (Array.isArray(cond.$in) && cond.$in.every(isScalar)) return cond.$in;
  // Every match of $all has its first value: that value alone narrows enough.
  if (Array.isArray(cond.$all) && cond.$all.length > 0 && isScalar(cond.$all[0])) return [cond.$all[0]];
  return null;
}

const SCALAR_TYPES = new Set(['string', 'int', 'bool', 'date']);

function candidates(q: MongoQuery, db: Database, out: AudiencePlan[]): void {
  for (const [field, cond] of Object.entries(q)) {
    if (field === '$and' && Array.isArray(cond)) {
      for (const sub of cond) candidates(sub as MongoQuery, db, out);
      continue;
    }
    const values = pinnedValues(cond);
    if (!values) continue;
    const lookup = indexedLookup(db, field);
    if (lookup) out.push({ kind: 'keys', field, lookup, keys: [...new Set(values.map(String))].sort() });
    else if (db.fields.some((f) => f.name === field && SCALAR_TYPES.has(f.type)) && !('$all' in Object(cond))) {
      out.push({ kind: 'scan', only: { field, values } });
    }
  }
}

/** The narrowest index plan the query allows (fewest keys), else a scan (pre-filtered if it can be). */
export function planAudience(q: MongoQuery, db: Database): AudiencePlan {
  const plans: AudiencePlan[] = [];
  candidates(q, db, plans);
  let best: AudiencePlan = plans.find((p) => p.kind === 'scan') ?? { kind: 'scan' };
  for (const p of plans) if (p.kind === 'keys' && (best.kind === 'scan' || p.keys.length < best.keys.length)) best = p;
  return best;
}

const typedKey = (v: unknown) => `${typeof v}:${String(v)}`;

/**
 * The query as a predicate, fast where the plan pinned a top-level field to scalars: mingo checks an
 * `$in` by walking its whole list for every document (50 µs a profile for 1,000 values); a set of
 * typed values gives the same answer (strict types; an array field matches by any element) at once.
 * The rest of the query is still mingo's.
 */
export function audiencePredicate(q: MongoQuery, plan: AudiencePlan, name = 'custom_request'): Predicate {
  const field = plan.kind === 'keys' ? plan.field : plan.only?.field;
  const cond = field === undefined ? undefined : q[field];
  const onlyPinned =
    cond !== undefined && (isScalar(cond) || (isOperators(cond) && Object.keys(cond).every((k) => k === '$in' || k === '$eq')));
  const values = onlyPinned ? pinnedValues(cond) : null;
  if (!field || !values) return compileQuery(q, name);
  const { [field]: _pinned, ...rest } = q;
  const wanted = new Set(values.map(typedKey));
  const others = Object.keys(rest).length ? compileQuery(rest, name) : null;
  compileQuery(q, name); // the whole query must be valid, whatever part the set checks
  return (doc) => {
    const v = doc[field];
    const hit = Array.isArray(v) ? v.some((x) => wanted.has(typedKey(x))) : v !== undefined && v !== null && wanted.has(typedKey(v));
    return hit && (others === null || others(doc));
  };
}
