/**
 * Expansion of custom_request launches: a page of the audience at a time, each page's messages and
 * the launch's new cursor committed together, so a restart resumes where the last commit left off
 * and two expanders never add a page twice.
 */
import type { FastifyBaseLogger } from 'fastify';
import { audiencePredicate, planAudience } from '../core/audience-plan.ts';
import type { MongoQuery } from '../core/mongo-query.ts';
import { isApiError, isStoreUnavailable } from '../core/errors.ts';
import type { Campaign, Database, Launch } from '../core/types.ts';
import type { DeliveryMetrics } from '../metrics.ts';
import { readAudiencePage } from './audience.ts';
import type { LaunchDeps } from './launch.ts';
import { messagesFor } from './recipients.ts';
import { BackgroundLoop, yieldToEventLoop } from '../support/background-loop.ts';

const PAGE_SIZE = 1000;

class Superseded extends Error {}

export interface StepResult {
  launch: Launch;
  queued: number;
  skipped: number;
  rowsRead: number;
}

/** Expands one page; null when another expander moved the launch on (or it was aborted) meanwhile. */
export async function expandStep(deps: LaunchDeps, launch: Launch, campaign: Campaign, db: Database, pageSize = PAGE_SIZE): Promise<StepResult | null> {
  const audience = launch.audience as { query: MongoQuery; priority: number };
  const plan = planAudience(audience.query, db);
  const page = await readAudiencePage(deps.store, db, plan, audiencePredicate(audience.query, plan), launch.cursor, pageSize);
  const now = Date.now();
  const rows = await messagesFor(deps.store, campaign, page.profiles, null, { now, priority: audience.priority });
  const state = page.next === null ? 'done' : 'expanding';
  let made: number;
  try {
    made = await deps.store.transaction(async (tx) => {
      const added = await tx.insertMessages(launch.id, rows, now);
      if (!(await tx.advanceLaunch(launch.id, launch.cursor, page.next, state, added, now))) throw new Superseded();
      if (state === 'done') {
        const counts = await tx.countMessagesByStatus(launch.id);
        const total = Object.values(counts).reduce((a, b) => a + b, 0);
        const detail = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(', ');
        await tx.appendCampaignLog(campaign.id, total ? 'info' : 'warning', `launch ${launch.id}: custom_request matched ${total} profiles${total ? ` (${detail})` : ''}`, now);
      }
      return added;
    });
  } catch (e) {
    if (e instanceof Superseded) return null;
    throw e;
  }
  const queued = rows.filter((r) => r.status === 'queued').length;
  if (queued) deps.wake('messages');
  return { launch: { ...launch, cursor: page.next, state, total: launch.total + made }, queued, skipped: rows.length - queued, rowsRead: page.rowsRead };
}

/**
 * Ends a launch whose expansion was refused for good (an ApiError: e.g. a regex over its work bound
 * on some profile's value), with the reason in the campaign log. A store error is not that: it is
 * thrown on, and the launch is retried.
 */
export async function failExpansion(deps: Pick<LaunchDeps, 'store'>, launch: Launch, e: unknown): Promise<boolean> {
  if (!isApiError(e)) return false;
  const now = Date.now();
  await deps.store.transaction(async (tx) => {
    if (await tx.failLaunch(launch.id, now)) {
      await tx.appendCampaignLog(launch.campaign_id, 'error', `launch ${launch.id}: custom_request failed while expanding (${e.text}); messages queued before this point are sent`, now);
    }
  });
  return true;
}

/** The background loop: takes expanding launches (under a lease) and expands them to the end. */
export class Expander extends BackgroundLoop {
  constructor(
    private readonly deps: LaunchDeps,
    private readonly o: { pollMs: number; leaseMs: number; log: FastifyBaseLogger; metrics?: Pick<DeliveryMetrics, 'storeError'> },
  ) {
    super();
  }

  protected async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const now = Date.now();
        const launch = await this.deps.store.claimExpandingLaunch(now, now + this.o.leaseMs);
        if (launch) await this.expand(launch, now + this.o.leaseMs / 2);
        else await this.waker.wait(this.o.pollMs);
      } catch (e) {
        if (isStoreUnavailable(e)) this.o.metrics?.storeError('expander');
        this.o.log.error({ err: e }, 'expanding a launch failed; retrying');
        await this.waker.wait(this.o.pollMs * 4);
      }
    }
  }

  /** Expands until done, stopped, or half the lease is gone (then the launch is claimed afresh). */
  private async expand(launch: Launch, until: number): Promise<void> {
    const campaign = await this.deps.catalog.campaign(launch.campaign_id);
    const db = campaign && (await this.deps.catalog.database(campaign.db_id));
    if (!campaign || !db) {
      await this.deps.store.abortExpandingLaunches(launch.campaign_id, Date.now());
      return;
    }
    let current: Launch | null = launch;
    while (current && current.state === 'expanding' && !this.stopped && Date.now() < until) {
      // Superseded (null): someone else moved the launch on; go on from where it is now.
      let step: StepResult | null;
      try {
        step = await expandStep(this.deps, current, campaign, db);
      } catch (e) {
        if (await failExpansion(this.deps, current, e)) return;
        throw e;
      }
      current = step?.launch ?? (await this.deps.store.getLaunch(launch.id));
      await yieldToEventLoop();
    }
    if (current?.state === 'expanding' && this.stopped) await this.deps.store.leaseLaunch(current.id, null);
  }
}
