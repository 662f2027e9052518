/**
 * How a `custom_request` audience is read: through an index when the query pins an indexed field to
 * one value or a list of values ({f: v}, {f: {$eq: v}}, {f: {$in: [...]}}, {f: {$all: [...]}},
 * also inside a top-level $and), otherwise by scanning the database. Either way every candidate is
 * then tested against the whole query, so the index only narrows and never changes the answer.
 */
import type { MongoQuery } from './mongo-query.ts';
import type { Database } from './types.ts';

export type Lookup = 'id' | 'email' | 'md5' | 'xxh' | { key: string };

export type AudiencePlan = { kind: 'keys'; field: string; lookup: Lookup; keys: string[] } | { kind: 'scan' };

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

function candidates(q: MongoQuery, db: Database, out: AudiencePlan[]): void {
  for (const [field, cond] of Object.entries(q)) {
    if (field === '$and' && Array.isArray(cond)) {
      for (const sub of cond) candidates(sub as MongoQuery, db, out);
      continue;
    }
    const lookup = indexedLookup(db, field);
    const values = lookup && pinnedValues(cond);
    if (lookup && values) out.push({ kind: 'keys', field, lookup, keys: [...new Set(values.map(String))].sort() });
  }
}

/** The narrowest index plan the query allows (fewest keys), else a scan. */
export function planAudience(q: MongoQuery, db: Database): AudiencePlan {
  const plans: AudiencePlan[] = [];
  candidates(q, db, plans);
  let best: AudiencePlan = { kind: 'scan' };
  for (const p of plans) if (p.kind === 'keys' && (best.kind === 'scan' || p.keys.length < best.keys.length)) best = p;
  return best;
}
