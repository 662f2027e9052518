/**
 * The background expander: takes custom_request launches still expanding (under a lease) and runs
 * their expansion steps (expansion.ts) to the end.
 */
import { isStoreUnavailable } from '../core/errors.ts';
import type { Launch } from '../core/types.ts';
import type { LaunchStore, Transactions } from '../store/store.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { BackgroundLoop, yieldToEventLoop } from '../support/background-loop.ts';
import type { Catalog } from './catalog.ts';
import { expandStep, failExpansion, type ExpansionAreas, type ExpansionDeps, type StepResult } from './expansion.ts';
import type { LoopOptions } from './loops.ts';

type ExpanderAreas = ExpansionAreas & Pick<LaunchStore, 'claimExpandingLaunch' | 'getLaunch' | 'leaseLaunch' | 'abortExpandingLaunches'>;

export interface ExpanderDeps extends ExpansionDeps {
  store: ExpanderAreas & Transactions<ExpansionAreas>;
  catalog: Catalog;
  /** Whether this process's delivery has messages in hand: expansion then leaves it half the main thread. */
  deliveryActive?: () => boolean;
}

/**
 * Profiles a background step reads. A step holds the main thread (about 70 us a profile: the read,
 * the message row and its indexes), longer than the sends waiting in the mailer thread last: with
 * steps of 1,000 that thread sat idle 5.4 s of the first 20 of a 100,000-message fan-out, with 200
 * and the pause below 3.2-3.7 s (docs/performance-log.md, scenario C). The request's own first steps keep
 * the larger page (expansion.ts).
 */
const BACKGROUND_PAGE_SIZE = 200;
/** The longest pause after a step: one slowed by the store (a held lock) need not stop expansion for as long. */
const MAX_PAUSE_MS = 1000;

/** The background loop: takes expanding launches (under a lease) and expands them to the end. */
export class Expander extends BackgroundLoop {
  constructor(
    private readonly deps: ExpanderDeps,
    private readonly o: LoopOptions,
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
      const started = performance.now();
      try {
        step = await expandStep(this.deps, current, campaign, db, BACKGROUND_PAGE_SIZE);
      } catch (e) {
        if (await failExpansion(this.deps, current, e)) return;
        throw e;
      }
      current = step?.launch ?? (await this.deps.store.getLaunch(launch.id));
      // Delivery is what the launch waits for: while it has work, pause as long as the step took, so
      // the messages already made keep going out. The queue stays far ahead: a step makes 200 messages.
      if (this.deps.deliveryActive?.()) await sleep(Math.min(MAX_PAUSE_MS, performance.now() - started));
      else await yieldToEventLoop();
    }
    if (current?.state === 'expanding' && this.stopped) await this.deps.store.leaseLaunch(current.id, null);
  }
}
