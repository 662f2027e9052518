/**
 * The webhook sender: claims due deliveries under a lease, posts each (delivery/webhook-post.ts),
 * records the attempt and schedules the next one (core/webhooks.ts). Its upkeep retakes deliveries
 * whose worker died and writes launch.done for launches that ended. Like the dispatcher, nothing
 * here may take the process down: a store fault is logged and backed off.
 */
import type { FastifyBaseLogger } from 'fastify';
import { hostname } from 'node:os';
import { randomHex } from '../core/ids.ts';
import { webhookRetryDelay } from '../core/webhooks.ts';
import type { Config } from '../config.ts';
import type { DeliveryMetrics } from '../metrics.ts';
import type { AttemptResult, ClaimedDelivery } from '../store/queries/webhooks.ts';
import type { CampaignStore, Transactions, WebhookStore } from '../store/store.ts';
import { BackgroundLoop, storeBackoff } from '../support/background-loop.ts';
import { postWebhook } from './webhook-post.ts';
import { WriteBatch } from './write-batch.ts';

type SenderAreas = Omit<WebhookStore, 'insertWebhook' | 'listWebhooks' | 'updateWebhook' | 'deleteWebhook' | 'listWebhookEvents' | 'redeliverWebhookEvents'> &
  Pick<CampaignStore, 'appendCampaignLog'>;

export interface WebhookSenderDeps {
  store: SenderAreas & Transactions<SenderAreas>;
  config: Pick<Config, 'webhooks' | 'egress' | 'pollMs' | 'leaseMs' | 'workers'>;
  log: FastifyBaseLogger;
  metrics?: Pick<DeliveryMetrics, 'storeError'>;
  clock?: () => number;
}

/** Launches marked done per upkeep at most: a backlog is worked off over several. */
const FINISH_BATCH = 500;


export class WebhookSender extends BackgroundLoop {
  readonly worker = `${hostname()}:${process.pid}:${randomHex(3)}:webhooks`;
  /** Where the launch.done sweep goes on (store finishLaunches: a sweep looks at a bounded number of open launches). */
  private finishFrom = 0;
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly now: () => number;
  /** Attempts recorded together: those that end while a write is on its way share the next. */
  private readonly attempts = new WriteBatch<AttemptResult, { failingSince: number | null }>((items) =>
    this.d.store.recordWebhookAttempts(this.worker, items.map(({ id, item }) => ({ id, result: item })), this.now()),
  );

  constructor(private readonly d: WebhookSenderDeps) {
    super();
    this.now = d.clock ?? Date.now;
  }

  override start(): void {
    if (this.d.config.workers <= 0) return;
    super.start();
  }

  /** Stops claiming and lets posts in flight end (each is bounded by the webhook timeout). */
  override async stop(): Promise<void> {
    await super.stop();
    await Promise.allSettled([...this.inflight.values()]);
  }

  /** A post is bounded by the timeout, so a lease of twice that (and at least the message lease) never runs out under a live worker. */
  private get leaseMs(): number {
    return Math.max(this.d.config.leaseMs, this.d.config.webhooks.timeoutMs * 2);
  }

  protected async loop(): Promise<void> {
    const { config, store, log } = this.d;
    let lastUpkeep = 0;
    while (!this.stopped) {
      try {
        const now = this.now();
        if (now - lastUpkeep >= config.pollMs) {
          lastUpkeep = now;
          const requeued = await store.requeueExpiredWebhookEvents(now);
          if (requeued) log.warn({ requeued }, 'webhook deliveries whose worker stopped holding them: queued again');
          // A full batch goes on at once; otherwise the next upkeep takes the walk on from where this one ended.
          for (;;) {
            const swept = await store.finishLaunches(now, { limit: FINISH_BATCH, after: this.finishFrom });
            this.finishFrom = swept.next;
            if (swept.done < FINISH_BATCH || this.stopped) break;
          }
        }
        const want = config.webhooks.concurrency - this.inflight.size;
        // A claim once a quarter of the slots is free (or all are), not one per post as each ends: a claim is a round trip.
        const worth = want > 0 && (this.inflight.size === 0 || want >= Math.ceil(config.webhooks.concurrency / 4));
        const claimed = worth ? await store.claimWebhookEvents(this.worker, want, now, now + this.leaseMs) : [];
        this.stepSucceeded();
        for (const c of claimed) this.start1(c);
        if (claimed.length === 0 || this.inflight.size >= config.webhooks.concurrency) await this.waker.wait(config.pollMs);
      } catch (err) {
        this.d.metrics?.storeError('webhooks');
        await this.backOff(err, log, 'webhook');
      }
    }
  }

  private start1(c: ClaimedDelivery): void {
    const p = this.deliver(c)
      .catch((err) => this.d.log.error({ err, delivery: c.id }, 'a webhook delivery failed unexpectedly; it is retried when its lease runs out'))
      .finally(() => {
        this.inflight.delete(c.id);
        this.waker.wake();
      });
    this.inflight.set(c.id, p);
  }

  private async deliver(c: ClaimedDelivery): Promise<void> {
    const { config, log } = this.d;
    const started = this.now();
    const t0 = performance.now();
    const r = await postWebhook(c.url, c.secret, c.event_id, Math.floor(started / 1000), c.payload, { timeoutMs: config.webhooks.timeoutMs, denyPrivate: config.egress.denyPrivate });
    const attempt = { time: started, status_code: r.statusCode, error: r.error, ms: Math.round(performance.now() - t0) };
    const now = this.now();
    let result: AttemptResult;
    if (r.error === null) result = { status: 'delivered', attempt };
    else {
      const wait = webhookRetryDelay(c.attempts);
      result = wait === null ? { status: 'failed', attempt } : { status: 'queued', attempt, next_attempt_at: now + wait };
      // The URL may carry a token in its query: only the origin goes to the log. The secret never does.
      log.warn({ webhook: c.webhook_id, delivery: c.id, to: new URL(c.url).origin, attempt: c.attempts, error: r.error, status: result.status }, 'webhook delivery failed');
    }
    const health = await this.record(c, () => this.attempts.add(c.id, result));
    if (health?.failingSince != null && now - health.failingSince >= config.webhooks.disableAfterMs) await this.disable(c, health.failingSince, now);
  }

  /** Records an attempt, retrying a store that is away for a while; gives up when stopping (the lease then runs out and it is posted again). */
  private async record<T>(c: ClaimedDelivery, write: () => Promise<T>): Promise<T | undefined> {
    for (let failures = 0; ; failures++) {
      try {
        return await write();
      } catch (err) {
        this.d.metrics?.storeError('webhooks');
        if (this.stopped || failures >= 8) {
          this.d.log.error({ err, delivery: c.id }, 'could not record a webhook attempt; it is posted again after its lease');
          return undefined;
        }
        await new Promise((r) => setTimeout(r, storeBackoff(failures)));
      }
    }
  }

  /** An endpoint failing every attempt past SALVO_WEBHOOK_DISABLE_AFTER_HOURS is disabled, in the log of each campaign it serves. */
  private async disable(c: ClaimedDelivery, since: number, now: number): Promise<void> {
    const hours = Math.round((now - since) / 360_000) / 10;
    const reason = `every attempt to post to ${c.url.replace(/\?.*$/, '')} failed for ${hours} h (SALVO_WEBHOOK_DISABLE_AFTER_HOURS)`;
    await this.record(c, () =>
      this.d.store.transaction(async (tx) => {
        if (!(await tx.disableWebhook(c.webhook_id, reason, now))) return;
        const hook = await tx.getWebhook(c.webhook_id);
        for (const campaign of hook?.campaign_ids ?? []) {
          await tx.appendCampaignLog(campaign, 'warning', `webhook ${c.webhook_id} disabled: ${reason}; webhooks/update with enabled: true turns it back on`, now);
        }
      }),
    );
    this.d.log.warn({ webhook: c.webhook_id, failingSinceMs: since }, 'webhook endpoint disabled: it kept failing');
  }
}
