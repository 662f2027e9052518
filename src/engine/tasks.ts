/**
 * Batch launches, now (start_batch, import_and_start_batch) or as background tasks (..._task). A task
 * is stored with its launch and its items; a runner takes it under a lease and processes it a chunk at
 * a time, each chunk's messages committed together with the task's progress, so a restart resumes
 * at the first unprocessed item and no item is launched twice.
 */
import { ApiError, badRequest, isApiError, isStoreUnavailable, notFound } from '../core/errors.ts';
import { campaignIdOf, importDelay, parseBatchContent, passesContentFilter, type LaunchContent } from '../core/launch-request.ts';
import type { Campaign, Launch, Task } from '../core/types.ts';
import type { LaunchStore, TaskStore, Transactions } from '../store/store.ts';
import { batchContext, counts, importItems, itemErrors, startItems, type BatchAreas, type BatchContext, type BatchResult, type ChunkOutcome } from './batch.ts';
import { withAttachmentFiles } from './attachment-files.ts';
import { campaignDatabase, launchableCampaign, writeFilteredLaunch, writeLaunch, type Launching } from './launch.ts';
import { inTurns } from './in-turns.ts';
import type { LoopOptions } from './loops.ts';
import { PRIORITY } from './recipients.ts';
import { BackgroundLoop, yieldToEventLoop } from '../support/background-loop.ts';
import { iso } from '../support/time.ts';

export type BatchKind = 'start_batch' | 'import_and_start_batch';

/** Items per transaction: large enough to batch well, small enough not to hold SQLite for long. */
const CHUNK = 200;

/** The store areas batches and tasks read and write. */
type TaskAreas = BatchAreas & TaskStore & Pick<LaunchStore, 'getLaunch' | 'addLaunchTotal'>;

/** What batch launches and the task runner need: their store areas, the catalog, a way to wake the loops. */
export interface TaskDeps extends Omit<Launching, 'store'> {
  store: TaskAreas & Transactions<TaskAreas>;
}

export const processItems = (kind: BatchKind, tx: BatchAreas, ctx: BatchContext, items: unknown[], offset: number, now: number): Promise<ChunkOutcome> =>
  kind === 'start_batch' ? startItems(tx, ctx, items, offset, now) : importItems(tx, ctx, items, offset, now);

export interface BatchOptions {
  priority?: number;
  notBefore?: number;
  dbId?: unknown;
  /** The request's root, for items that take their match value from it (import_and_start). */
  root?: Record<string, unknown>;
}

/** The campaign a batch launches and what its items share; whole-request problems are refused here. */
export async function prepareBatch(deps: Pick<TaskDeps, 'catalog'>, kind: BatchKind, campaignId: number, body: Record<string, unknown>, o: BatchOptions): Promise<{ campaign: Campaign; ctx: BatchContext }> {
  const campaign = await launchableCampaign(deps.catalog, campaignId);
  if (o.dbId !== undefined && Number(o.dbId) !== campaign.db_id) {
    throw badRequest(`db_id ${o.dbId} is not the database of campaign ${campaign.id} (it is ${campaign.db_id})`);
  }
  const db = await campaignDatabase(deps.catalog, campaign);
  const ctx = { ...batchContext(campaign, db, body, kind === 'start_batch' ? 'start' : 'import', o.priority ?? PRIORITY.batch), notBefore: o.notBefore, root: o.root };
  return { campaign, ctx };
}

/** Every item's answer when the campaign's content_filter stops the launch. */
const filteredResults = (items: unknown[]) => items.map((): BatchResult => ({ profile_id: null, status: 'skipped', skip_reason: 'content_filter' }));

/** A whole batch in one transaction: answers the launch and a result per item. */
async function runBatch(
  deps: TaskDeps,
  kind: BatchKind,
  campaignId: number,
  body: Record<string, unknown>,
  items: unknown[],
  p: LaunchContent,
  o: BatchOptions = {},
): Promise<{ launch: Launch; results: BatchResult[] }> {
  const now = Date.now();
  const { campaign, ctx } = await prepareBatch(deps, kind, campaignId, body, o);
  const filtered = !passesContentFilter(campaign, p.content);
  // A filtered launch stores no attachments.
  const result = await withAttachmentFiles(deps.store, filtered ? [] : p.attachments, () => deps.store.transaction(async (tx) => {
    if (filtered) return { launch: await writeFilteredLaunch(tx, campaign, p, kind, now), results: filteredResults(items), queued: 0 };
    const outcome = await processItems(kind, tx, ctx, items, 0, now);
    const written = await writeLaunch(tx, campaign, p, kind, outcome.rows, now);
    return { launch: written.launch, results: outcome.results, queued: written.queued };
  }));
  if (result.queued) deps.wake('messages');
  return result;
}

/** Stores a task and its launch; the runner does the rest. Whole-request problems are refused now. */
async function createTask(deps: TaskDeps, kind: BatchKind, campaignId: number, body: Record<string, unknown>, items: unknown[], p: LaunchContent): Promise<Task> {
  const now = Date.now();
  const campaign = await launchableCampaign(deps.catalog, campaignId);
  batchContext(campaign, await campaignDatabase(deps.catalog, campaign), body, kind === 'start_batch' ? 'start' : 'import', PRIORITY.batch);
  if (items.length === 0) throw badRequest("field 'data' has no items");
  const { token: _token, attach: _attach, ...payload } = body;
  const task = await withAttachmentFiles(deps.store, p.attachments, () => deps.store.transaction(async (tx) => {
    const launch = await tx.insertLaunch({ campaign_id: campaign.id, kind: `${kind}_task`, state: 'done', content: p.content, custom_data: p.customData, audience: null, cursor: null }, now);
    await tx.insertAttachments(launch.id, p.attachments, now);
    const t = await tx.insertTask({ kind, campaign_id: campaign.id, launch_id: launch.id, payload, total: items.length }, now);
    await tx.appendCampaignLog(campaign.id, 'info', `task ${t.id} (${kind}, launch ${launch.id}): ${items.length} items queued`, now);
    return t;
  }));
  deps.wake('tasks');
  return task;
}

export type LaunchLimits = { attachLimit: number; contentLimit: number };
export type BatchRequest = Record<string, unknown> & { id?: number | string; trigger_id?: number | string; data: unknown[] };

/** start_batch and import_and_start_batch: the whole batch now, one launch, a result per item. */
export async function launchBatch(deps: TaskDeps, kind: BatchKind, request: BatchRequest, limits: LaunchLimits) {
  const campaignId = campaignIdOf(request);
  return runBatch(deps, kind, campaignId, request, request.data, await inTurns(parseBatchContent(request, limits)));
}

/** The _task forms: the batch stored as a task, answered at once, run by the TaskRunner. */
export async function queueBatchTask(deps: TaskDeps, kind: BatchKind, request: BatchRequest, limits: LaunchLimits): Promise<Task> {
  const campaignId = campaignIdOf(request);
  return createTask(deps, kind, campaignId, request, request.data, await inTurns(parseBatchContent(request, limits)));
}

export type ImportAndStartRequest = Record<string, unknown> & {
  id?: number | string;
  trigger_id?: number | string;
  db_id?: number | string;
  data: Record<string, unknown>;
  timeout?: { days?: number; hours?: number; minutes?: number };
};

/** import_and_start as the one-item import_and_start_batch it runs (its dry run too). */
export async function importAndStartPlan(request: ImportAndStartRequest, limits: LaunchLimits) {
  const campaignId = campaignIdOf(request);
  const p = await inTurns(parseBatchContent(request, limits));
  const item = { data: request.data };
  const delay = importDelay(request.timeout);
  const o: BatchOptions = { priority: PRIORITY.trigger, notBefore: delay ? Date.now() + delay : undefined, dbId: request.db_id, root: request };
  return { campaignId, body: { ...request, data: [item] }, items: [item], p, o };
}

/**
 * import_and_start: one profile imported and launched together, at trigger priority, held for
 * `timeout`. A refused profile is the request's failure (`refused`), its launch recorded all the same.
 */
export async function importAndStart(
  deps: TaskDeps,
  request: ImportAndStartRequest,
  limits: LaunchLimits,
): Promise<{ launch: Launch; profileId: string | null } | { launch: Launch; refused: ApiError }> {
  const { campaignId, body, items, p, o } = await importAndStartPlan(request, limits);
  const { launch, results } = await runBatch(deps, 'import_and_start_batch', campaignId, body, items, p, o);
  const [r] = results;
  if ('error' in r) return { launch, refused: new ApiError(r.error as ApiError['code'], r.error_text.replace(/^data\[0\]: /, '')) };
  return { launch, profileId: r.profile_id };
}

export async function loadTask(deps: { store: Pick<TaskStore, 'getTask'> }, id: number): Promise<Task> {
  const t = await deps.store.getTask(id);
  if (!t) throw notFound(`task ${id} not found`);
  return t;
}

class Superseded extends Error {}

export class TaskRunner extends BackgroundLoop {
  constructor(
    private readonly deps: TaskDeps,
    private readonly o: LoopOptions,
  ) {
    super();
  }

  protected async loop(): Promise<void> {
    while (!this.stopped) {
      let task: Task | null = null;
      try {
        const now = Date.now();
        task = await this.deps.store.claimTask(now, now + this.o.leaseMs);
        if (task) await this.run(task);
        else await this.waker.wait(this.o.pollMs);
      } catch (e) {
        if (isStoreUnavailable(e)) {
          this.o.metrics?.storeError('tasks');
          // Not the task's fault: it resumes from its last committed chunk once the store is back.
          this.o.log.warn({ err: e, task: task?.id }, 'a batch task paused: the store is unavailable; retrying');
          await this.waker.wait(this.o.pollMs * 4);
          continue;
        }
        this.o.log.error({ err: e, task: task?.id }, 'a batch task failed');
        const why = isApiError(e) ? e.text : `internal error: ${(e as Error).message}`;
        if (task) await this.deps.store.failTask(task.id, why, Date.now()).catch(() => {});
        await this.waker.wait(this.o.pollMs);
      }
    }
  }

  /** Processes chunks until the task is done, the runner stops, or another runner takes over. */
  private async run(claimed: Task): Promise<void> {
    const { store, catalog } = this.deps;
    let task = claimed;
    const items = task.payload.data as unknown[];
    const campaign = await catalog.campaign(task.campaign_id);
    const launch = await store.getLaunch(task.launch_id);
    if (!campaign || !launch) throw new Error(`campaign ${task.campaign_id} or launch ${task.launch_id} no longer exists`);
    const ctx = batchContext(campaign, await campaignDatabase(catalog, campaign), task.payload, task.kind === 'start_batch' ? 'start' : 'import', PRIORITY.batch);
    const filtered = !passesContentFilter(campaign, launch.content);
    while (!this.stopped && task.processed < task.total) {
      const from = task.processed;
      const chunk = items.slice(from, from + CHUNK);
      const now = Date.now();
      try {
        task = await store.transaction(async (tx) => {
          const outcome: ChunkOutcome = filtered
            ? { rows: [], results: filteredResults(chunk) }
            : await processItems(task.kind, tx, ctx, chunk, from, now);
          const made = await tx.insertMessages(task.launch_id, outcome.rows, now);
          await tx.addLaunchTotal(task.launch_id, made);
          const progress = { processed: chunk.length, ...counts(outcome.results), errors: itemErrors(outcome.results, from) };
          const done = from + chunk.length >= task.total;
          if (!(await tx.advanceTask(task, from, progress, done, now, now + this.o.leaseMs))) throw new Superseded();
          const next = { ...task, processed: from + chunk.length, sent: task.sent + progress.sent, skipped: task.skipped + progress.skipped, failed: task.failed + progress.failed, errors: [...task.errors, ...progress.errors].slice(0, 1000) };
          if (done) {
            const why = filtered ? '; content does not match the campaign content_filter, nothing sent' : '';
            await tx.appendCampaignLog(campaign.id, filtered ? 'warning' : 'info', `task ${task.id} done: ${next.sent} sent, ${next.skipped} skipped, ${next.failed} failed${why}`, now);
          }
          return next;
        });
      } catch (e) {
        if (e instanceof Superseded) return;
        throw e;
      }
      this.deps.wake('messages');
      await yieldToEventLoop();
    }
    if (task.processed < task.total) await store.releaseTask(task.id);
  }
}

export function taskView(t: Task) {
  return {
    task_id: t.id,
    kind: t.kind,
    state: t.state,
    launch_id: t.launch_id,
    counts: { total: t.total, processed: t.processed, sent: t.sent, skipped: t.skipped, failed: t.failed },
    errors: t.errors,
    created: iso(t.created_at),
    updated: iso(t.updated_at),
    finished: t.finished_at === null ? null : iso(t.finished_at),
  };
}
