/**
 * Keeps the leases of what a worker holds from running out while it still works on it: a send slower
 * than the lease (a slow SMTP server, a large message) must not be retaken and sent a second time.
 * Renews every third of the lease, so two renewals can fail before anything expires.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { DeliveryMetrics } from '../metrics.ts';
import type { MessageStore } from '../store/store.ts';

export interface LeaseKeeperDeps {
  store: Pick<MessageStore, 'renewLeases'>;
  worker: string;
  leaseMs: number;
  clock: () => number;
  log: FastifyBaseLogger;
  metrics?: Pick<DeliveryMetrics, 'storeError'>;
  /** The message ids the worker holds now. */
  held: () => number[];
  /**
   * Whether the worker is recording this message's outcome now: a renewal that misses it may have run
   * just after that write committed (the message is finished, not retaken), so it is not reported lost.
   */
  recording?: (id: number) => boolean;
  /** Called with the ids it turned out not to hold any more (retaken after an expiry). */
  lost: (ids: Set<number>) => void;
}

export class LeaseKeeper {
  private timer: NodeJS.Timeout | null = null;
  private renewing: Promise<boolean> | null = null;
  /** When the last renewal that went through started: every lease held then runs until at least that plus the lease. */
  private renewedAt = -Infinity;

  constructor(private readonly d: LeaseKeeperDeps) {}

  start(): void {
    this.timer ??= setInterval(() => void this.renew(), Math.max(100, Math.floor(this.d.leaseMs / 3)));
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Renews now; answers whether it went through. Never throws (a failed renewal is logged and tried again at the next tick). */
  renew(): Promise<boolean> {
    this.renewing ??= this.renewOnce().finally(() => (this.renewing = null));
    return this.renewing;
  }

  /**
   * Renews unless a renewal went through within the last third of the lease: what is held now was
   * then renewed or claimed since, so none of it can have run out. Answers as renew() does.
   */
  renewIfStale(): Promise<boolean> {
    if (this.d.clock() - this.renewedAt < this.d.leaseMs / 3) return Promise.resolve(true);
    return this.renew();
  }

  private async renewOnce(): Promise<boolean> {
    const now = this.d.clock();
    const ids = this.d.held();
    if (ids.length === 0) {
      this.renewedAt = now;
      return true;
    }
    try {
      const still = await this.d.store.renewLeases(this.d.worker, ids, now + this.d.leaseMs, now);
      // One that ended while the renewal ran is not lost: only what is still held, and not being recorded by this worker, counts.
      const holding = new Set(this.d.held());
      const recording = this.d.recording ?? (() => false);
      const lost = new Set(ids.filter((id) => !still.has(id) && holding.has(id) && !recording(id)));
      if (lost.size) {
        this.d.log.warn({ messages: [...lost] }, 'leases lost: these messages were retaken by another worker');
        this.d.lost(lost);
      }
      this.renewedAt = now;
      return true;
    } catch (err) {
      this.d.metrics?.storeError('leases');
      this.d.log.warn({ err, messages: ids.length }, 'renewing leases failed (store unavailable?); trying again');
      return false;
    }
  }
}
