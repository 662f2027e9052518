/**
 * The retention purge: a background loop in every `serve` and `worker` process that removes what is older
 * than its setting (SALVO_RETAIN_*), each kind on its own, so that the store stops growing with time.
 *
 * It must never stall the rest. SQLite has one writer: a purge statement holds the write lock (and, since
 * better-sqlite3 is synchronous, the event loop) for as long as it runs. So it works in batches, each in a
 * transaction of its own, times each batch's statement, halves the batch when one took more than
 * TARGET_BATCH_MS (and grows it back slowly when they are quick), and pauses between batches about as long as
 * the batch took, leaving the store to HTTP and delivery at least half the time. On PostgreSQL the
 * processes sharing the store take turns through an advisory lock (store/queries/retention.ts).
 */
import type { FastifyBaseLogger } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Retention } from '../config.ts';
import type { Metrics } from '../metrics.ts';
import { ORPHAN_GRACE_MS } from '../store/queries/attachment-files.ts';
import type { PurgeKind } from '../store/queries/retention.ts';
import type { RetentionStore, Transactions } from '../store/store.ts';
import { BackgroundLoop, yieldToEventLoop } from '../support/background-loop.ts';

/**
 * Which setting each kind is kept by. Bodies come before their messages, messages before their launches,
 * launches before the attachment files only they named. A file no launch names goes ORPHAN_GRACE_MS after
 * it was last used, whatever the settings: a launch may be between writing its files and naming them.
 */
const KEPT_BY: [PurgeKind, keyof Retention | 'orphanGrace'][] = [
  ['bodies', 'bodiesMs'],
  ['messages', 'messagesMs'],
  ['outbox', 'outboxMs'],
  ['webhook_deliveries', 'webhookDeliveriesMs'],
  ['launches', 'launchesMs'],
  ['campaign_log', 'launchesMs'],
  ['deleted_campaigns', 'launchesMs'],
  ['attachment_files', 'orphanGrace'],
];

/** Rows per statement at most. */
const MAX_BATCH = 500;
const MIN_BATCH = 10;
const FIRST_BATCH = 100;
/** A batch slower than this halves the next one: half the 50 ms a write may hold SQLite's lock. */
const TARGET_BATCH_MS = 25;
/** Passes run this often at most, and at least every quarter of the shortest retention (a 1s retention in tests). */
const MAX_PASS_EVERY_MS = 60_000;
const MIN_PASS_EVERY_MS = 250;

export interface PurgerDeps {
  store: Transactions<RetentionStore>;
  retention: Retention;
  log: FastifyBaseLogger;
  metrics?: Pick<Metrics, 'purged' | 'storeError'>;
  clock?: () => number;
}

/** What one pass did: rows by kind, the slowest batch, and whether another process had the turn. */
export interface PassReport {
  rows: Partial<Record<PurgeKind, number>>;
  slowestBatchMs: number;
  busy: boolean;
}

export class Purger extends BackgroundLoop {
  /** Rows the next statement may touch: starts small, grows while batches are quick, halves when one is slow. */
  private batch = FIRST_BATCH;
  private readonly everyMs: number;
  private readonly now: () => number;
  /** Since start: batches run and the slowest one's statement time (the write-lock hold on SQLite). */
  readonly stats = { batches: 0, slowestBatchMs: 0 };

  constructor(private readonly d: PurgerDeps) {
    super();
    this.now = d.clock ?? Date.now;
    const shortest = Math.min(...Object.values(d.retention));
    this.everyMs = Math.max(MIN_PASS_EVERY_MS, Math.min(MAX_PASS_EVERY_MS, shortest / 4));
  }

  protected async loop(): Promise<void> {
    while (!this.stopped) {
      try {
        const report = await this.pass();
        this.stepSucceeded();
        const total = Object.values(report.rows).reduce((a, b) => a + b, 0);
        if (total > 0) this.d.log.debug({ ...report.rows, slowestBatchMs: Math.round(report.slowestBatchMs) }, 'retention purge');
      } catch (err) {
        this.d.metrics?.storeError('retention');
        await this.backOff(err, this.d.log, 'retention purge');
        continue;
      }
      await this.waker.wait(this.everyMs);
    }
  }

  /** One pass over every kind, each until nothing of it is older than its setting (or the loop stops). */
  async pass(): Promise<PassReport> {
    const report: PassReport = { rows: {}, slowestBatchMs: 0, busy: false };
    const now = this.now();
    for (const [kind, setting] of KEPT_BY) {
      const before = now - (setting === 'orphanGrace' ? ORPHAN_GRACE_MS : this.d.retention[setting]);
      for (;;) {
        if (this.stopped) return report;
        const limit = this.batch;
        const done = await this.d.store.transaction(async (tx) => {
          if (!(await tx.takePurgeTurn())) return null;
          const started = performance.now();
          const rows = await tx.purge(kind, before, limit);
          return { rows, ms: performance.now() - started };
        });
        if (done === null) {
          // Another process is purging this store: the pass is its.
          report.busy = true;
          return report;
        }
        this.fit(done.ms);
        report.slowestBatchMs = Math.max(report.slowestBatchMs, done.ms);
        this.stats.batches++;
        this.stats.slowestBatchMs = Math.max(this.stats.slowestBatchMs, done.ms);
        if (done.rows > 0) {
          report.rows[kind] = (report.rows[kind] ?? 0) + done.rows;
          this.d.metrics?.purged(kind, done.rows);
        }
        // A batch short of its limit found the last of its kind; of attachment files, one that found none.
        if (kind === 'attachment_files' ? done.rows === 0 : done.rows < limit) break;
        // The store is left to the others for about as long as the batch held it.
        await yieldToEventLoop();
        await sleep(Math.min(50, Math.max(1, done.ms)));
      }
    }
    return report;
  }

  /** The next batch's size from this one's time. */
  private fit(ms: number): void {
    if (ms > TARGET_BATCH_MS) this.batch = Math.max(MIN_BATCH, Math.floor(this.batch / 2));
    else if (ms < TARGET_BATCH_MS / 2) this.batch = Math.min(MAX_BATCH, Math.ceil(this.batch * 1.25));
  }
}
