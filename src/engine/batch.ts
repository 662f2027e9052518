/**
 * Batch launches: start_batch (items name existing profiles) and import_and_start (items are profiles
 * to import, then launch). Items are processed in chunks, each chunk's writes in the caller's
 * transaction; an item that fails is reported in its place and the others go on. The same code runs
 * a whole request at once or a background task chunk by chunk (tasks.ts).
 */
import type { SubscriptionFilter } from '../core/choose.ts';
import { ApiError, badRequest } from '../core/errors.ts';
import { resourceIdOf, singleMatch, type StartBody } from '../core/launch-request.ts';
import { startMatching, type StartMatching } from '../core/matching.ts';
import type { Campaign, Database, ItemError, NewMessage, Profile } from '../core/types.ts';
import type { CatalogStore } from '../store/store.ts';
import type { LaunchAreas } from './launch.ts';
import { resolveSingle } from './audience.ts';
import { matchSpec, matchValueOf, prepareItem, refuseUnsupportedImportOptions, resourceIdsOf, writeProfilesIn, type ImportOptions, type ItemResult, type MatchSpec } from './profiles.ts';
import { messagesFor } from './recipients.ts';

/** What a chunk of batch items reads and writes, in the caller's transaction: profiles (imported or found), resources, messages. */
export type BatchAreas = LaunchAreas & Pick<CatalogStore, 'getResources'>;

/** What every item of a batch shares. */
export interface BatchContext {
  campaign: Campaign;
  db: Database;
  priority: number;
  filter: SubscriptionFilter | null;
  /** start_batch: how items name profiles. */
  matching: StartMatching;
  fieldName: string | null;
  resourceId: number | null;
  /** import_and_start: how items are matched for import. */
  importSpec: MatchSpec | null;
  importOptions: ImportOptions;
  /** Not sent before then (import_and_start's timeout). */
  notBefore?: number;
  /** import_and_start: the request, whose root email, phone, profile_id or field_value the item is matched on. */
  root?: Record<string, unknown>;
}

/** One item's answer: the profile and its message's fate, or why the item failed. */
export type BatchResult =
  | { profile_id: string | null; status: 'queued' | 'waiting' | 'skipped'; skip_reason?: string }
  | { error: number; error_text: string };

export interface ChunkOutcome {
  rows: NewMessage[];
  results: BatchResult[];
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function batchContext(campaign: Campaign, db: Database, body: Record<string, unknown>, kind: 'start' | 'import', priority: number): BatchContext {
  if (kind === 'import') refuseUnsupportedImportOptions(body);
  const matching = kind === 'start' ? startMatching(body.matching) : 'email';
  if (kind === 'start' && matching === 'custom' && typeof body.field_name !== 'string') throw badRequest("field 'field_name' is required for matching 'custom'");
  return {
    campaign,
    db,
    priority,
    filter: null,
    matching,
    fieldName: typeof body.field_name === 'string' ? body.field_name : null,
    resourceId: resourceIdOf(body.resource_id),
    importSpec: kind === 'import' ? matchSpec(db, body as { matching?: string; field_name?: string }) : null,
    importOptions: { skip_invalid_subscriptions: body.skip_invalid_subscriptions === true },
  };
}

const failure = (index: number, e: unknown): BatchResult => {
  if (e instanceof ApiError) return { error: e.code, error_text: `data[${index}]: ${e.text}` };
  throw e;
};

/** Messages for the profiles items named, and each item's result in order. */
async function launchProfiles(tx: BatchAreas, ctx: BatchContext, found: (Profile | BatchResult)[], itemData: (Record<string, unknown> | undefined)[], now: number): Promise<ChunkOutcome> {
  const profiles = new Map<string, Profile>();
  const customData = new Map<string, Record<string, unknown>>();
  found.forEach((p, i) => {
    if (!('db_id' in p)) return;
    profiles.set(p.id, p);
    const cd = itemData[i];
    if (cd) customData.set(p.id, cd);
  });
  const rows = await messagesFor(tx, ctx.campaign, [...profiles.values()], ctx.filter, { now, priority: ctx.priority, customData, notBefore: ctx.notBefore });
  const byProfile = new Map(rows.map((r) => [r.profile_id, r]));
  const results = found.map((p): BatchResult => {
    if (!('db_id' in p)) return p;
    const row = byProfile.get(p.id)!;
    return row.status === 'skipped' ? { profile_id: p.id, status: 'skipped', skip_reason: row.skip_reason! } : { profile_id: p.id, status: row.status as 'queued' | 'waiting' };
  });
  return { rows, results };
}

/** start_batch items: {email} | {phone} | {profile_id} | {field_value} | {subscription_id}, each maybe with custom_data. */
export async function startItems(tx: BatchAreas, ctx: BatchContext, items: unknown[], offset: number, now: number): Promise<ChunkOutcome> {
  const found: (Profile | BatchResult)[] = [];
  for (const [i, item] of items.entries()) {
    try {
      if (!isObject(item)) throw badRequest('must be an object');
      const match = singleMatch({ ...(item as StartBody), field_name: ctx.fieldName ?? undefined, resource_id: ctx.resourceId ?? undefined }, ctx.matching);
      found.push(await resolveSingle(tx, ctx.db, match));
    } catch (e) {
      found.push(failure(offset + i, e));
    }
  }
  return launchProfiles(tx, ctx, found, items.map(customDataOf), now);
}

/**
 * import_and_start items: {data: {...profile}, custom_data?}; the profile is imported, then launched.
 * import_and_start's root email, phone, profile_id or field_value (`ctx.root`) is matched on instead
 * of the value in data.
 */
export async function importItems(tx: BatchAreas, ctx: BatchContext, items: unknown[], offset: number, now: number): Promise<ChunkOutcome> {
  const spec = ctx.importSpec!;
  const datas = items.map((item) => (isObject(item) && isObject(item.data) ? item.data : null));
  const resources = await tx.getResources(resourceIdsOf(datas.filter((d): d is Record<string, unknown> => d !== null)));
  const prepared = datas.map((data, i) => {
    try {
      if (!data) throw badRequest("must be an object {data: {...profile}}");
      return prepareItem(ctx.db, spec, matchValueOf(spec, data, ctx.root, 'data'), resources, ctx.importOptions, `data[${offset + i}].data`);
    } catch (e) {
      const r = failure(offset + i, e) as ItemResult;
      return r;
    }
  });
  const imported = await writeProfilesIn(tx, ctx.db, spec, prepared, 'upsert', now);
  const ids = imported.flatMap((r) => ('profile_id' in r ? [r.profile_id] : []));
  const profiles = new Map((await tx.getProfiles(ids)).map((p) => [p.id, p]));
  const found = imported.map((r, i): Profile | BatchResult => {
    if ('profile_id' in r) return profiles.get(r.profile_id)!;
    return r.error_text.startsWith('data[') ? r : { error: r.error, error_text: `data[${offset + i}]: ${r.error_text}` };
  });
  return launchProfiles(tx, ctx, found, items.map(customDataOf), now);
}

function customDataOf(item: unknown): Record<string, unknown> | undefined {
  return isObject(item) && isObject(item.custom_data) ? item.custom_data : undefined;
}

/** Item errors as tasks keep them. */
export function itemErrors(results: BatchResult[], offset: number): ItemError[] {
  return results.flatMap((r, i) => ('error' in r ? [{ index: offset + i, error: r.error, error_text: r.error_text }] : []));
}

/** Profile ids whose message is on its way, as Altcraft's `result` lists them. */
export const sentProfileIds = (results: BatchResult[]): string[] =>
  results.flatMap((r) => ('status' in r && r.status !== 'skipped' && r.profile_id ? [r.profile_id] : []));

export function counts(results: BatchResult[]) {
  let sent = 0;
  let skipped = 0;
  let failed = 0;
  for (const r of results) {
    if ('error' in r) failed++;
    else if (r.status === 'skipped') skipped++;
    else sent++;
  }
  return { sent, skipped, failed };
}
