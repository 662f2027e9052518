/**
 * One step of a custom_request launch's expansion: a page of the audience, its messages and the
 * launch's new cursor committed together, so a restart resumes where the last commit left off and two
 * expanders never add a page twice. The request that starts a launch runs the first steps itself
 * (launch.ts); the background Expander (expander.ts) runs the rest.
 */
import { audiencePredicate, planAudience } from '../core/audience-plan.ts';
import { isApiError } from '../core/errors.ts';
import type { MongoQuery } from '../core/mongo-query.ts';
import type { Campaign, Database, Launch } from '../core/types.ts';
import type { CampaignStore, LaunchStore, MessageStore, ProfileStore, Transactions } from '../store/store.ts';
import { readAudiencePage } from './audience.ts';
import { messagesFor } from './recipients.ts';
import type { Wake } from './loops.ts';

/** The store areas an expansion step reads and writes. */
export type ExpansionAreas = ProfileStore &
  Pick<LaunchStore, 'advanceLaunch' | 'failLaunch'> &
  Pick<MessageStore, 'insertMessages' | 'recentRecipients' | 'countMessagesByStatus'> &
  Pick<CampaignStore, 'appendCampaignLog'>;

export interface ExpansionDeps {
  store: ExpansionAreas & Transactions<ExpansionAreas>;
  wake: Wake;
}

const PAGE_SIZE = 1000;

class Superseded extends Error {}

export interface StepResult {
  launch: Launch;
  queued: number;
  skipped: number;
  rowsRead: number;
}

/** Expands one page; null when another expander moved the launch on (or it was aborted) meanwhile. */
export async function expandStep(deps: ExpansionDeps, launch: Launch, campaign: Campaign, db: Database, pageSize = PAGE_SIZE): Promise<StepResult | null> {
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
export async function failExpansion(deps: Pick<ExpansionDeps, 'store'>, launch: Launch, e: unknown): Promise<boolean> {
  if (!isApiError(e)) return false;
  const now = Date.now();
  await deps.store.transaction(async (tx) => {
    if (await tx.failLaunch(launch.id, now)) {
      await tx.appendCampaignLog(launch.campaign_id, 'error', `launch ${launch.id}: custom_request failed while expanding (${e.text}); messages queued before this point are sent`, now);
    }
  });
  return true;
}
