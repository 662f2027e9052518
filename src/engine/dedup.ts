/**
 * Request deduplication's work in this process (http/dedup.ts turns requests into calls on it): the
 * claims it holds, renewed together; answers the store would not take yet, retried with backoff; the
 * purge of expired keys; and the wait for the first request with a key. One object per app, started
 * and stopped with the app's other parts (app.ts), logging with the app's logger.
 *
 * A claim is a marker in the store that lives with the process that made it: while the request runs,
 * the process renews the marker every RENEW_MS; one not renewed for ABANDONED_MS was left by a
 * process that died, and the next repeat runs instead of waiting for an answer that will never come.
 * The embedded SQLite store serves from one process, so there a marker last renewed before this
 * process started is abandoned at once (a repeat right after a crash and restart runs at once).
 *
 * Unless the dead request had written its launch (a custom_request, whose launch spans transactions:
 * the launch's first write marks the claim with its answer, `markDedupLaunch`). A repeat then answers
 * with that launch and hands it to the background expander at once, rather than launching the
 * audience a second time (docs/operations.md, failure table).
 */
import type { FastifyBaseLogger } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DedupSeal, StoredAnswer } from '../store/queries/dedup.ts';
import type { DedupStore, LaunchStore, StoreLifecycle } from '../store/store.ts';
import type { Wake } from './loops.ts';

const RENEW_MS = 3_000;
/** Five missed renewals: long enough for an event loop stalled a few seconds, short for a retrying client. */
const ABANDONED_MS = 15_000;
/** Longer than ABANDONED_MS, so a repeat waiting on a dead process's claim takes it over rather than giving up. */
const WAIT_MS = 30_000;
/** No request runs this long (the server's timeouts close it first); its claim is no longer renewed. */
const MAX_RUN_MS = 30 * 60_000;
const PURGE_EVERY_MS = 10 * 60_000;
/** How long an answer the store would not take is retried in the background. */
const KEEP_RETRY_MS = 5 * 60_000;
/** Between looks at a key another request holds: 20 ms, doubling to 500 ms (a repeat waits seconds at most for a live one). */
const lookAgainMs = (attempt: number) => Math.min(500, 20 * 2 ** attempt);

/** A request's key, per caller (`scope`: the token's name, or the v1.0 link). */
export interface DedupKey {
  scope: string;
  key: string;
}

/** What waiting for the first request with a key came to: its answer, the key free for this one, or no answer in time. */
export type FirstAnswer = { state: 'answered'; answer: StoredAnswer } | { state: 'free' } | { state: 'still-running' };

export type DedupAreas = DedupStore & Pick<StoreLifecycle, 'dialect'> & Pick<LaunchStore, 'leaseLaunch'>;

const idOf = (k: DedupKey) => `${k.scope}\n${k.key}`;

export class RequestDedup {
  /** The claims this process holds, renewed together. */
  private readonly held = new Map<string, DedupKey & { since: number }>();
  private timers: NodeJS.Timeout[] = [];
  private readonly startedAt = Date.now();
  /** Store work under way in the background (renewals, purges, answers being kept): stop() waits for it. */
  private readonly background = new Set<Promise<unknown>>();
  private readonly stopping = new AbortController();

  constructor(
    private readonly store: DedupAreas,
    /** SALVO_DEDUP_HOURS; 0 turns deduplication off. */
    readonly hours: number,
    private readonly deps: { log: FastifyBaseLogger; wake: Wake },
  ) {}

  start(): void {
    if (this.hours === 0 || this.timers.length > 0) return;
    this.timers.push(setInterval(() => this.track(this.renew()), RENEW_MS).unref());
    this.timers.push(setInterval(() => this.track(this.purge()), PURGE_EVERY_MS).unref());
    this.track(this.purge());
  }

  /** Stops the timers and the retries; answers not kept by then are left to go stale (a repeat then runs, or answers with its launch). */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.stopping.abort();
    await Promise.allSettled([...this.background]);
  }

  /** Timers and retries pending (none after stop). */
  get pendingTimers(): number {
    return this.timers.length;
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  private async renew(): Promise<void> {
    const now = Date.now();
    for (const c of this.held.values()) if (now - c.since > MAX_RUN_MS) this.held.delete(idOf(c));
    if (this.held.size === 0) return;
    await this.store.renewDedup([...this.held.values()], now).catch((err) => this.deps.log.warn({ err }, 'renewing deduplication claims failed'));
  }

  private async purge(): Promise<void> {
    await this.store.purgeDedup(Date.now()).catch((err) => this.deps.log.warn({ err }, 'purging old deduplication keys failed'));
  }

  /** Claims last renewed before this are abandoned. */
  private abandonedBefore(now: number): number {
    return this.store.dialect === 'sqlite' ? Math.max(now - ABANDONED_MS, this.startedAt) : now - ABANDONED_MS;
  }

  /** When a key taken now stops holding: its answer's lifetime, and claims older than this were abandoned. */
  times(): Pick<DedupSeal, 'now' | 'expiresAt' | 'staleBefore'> {
    const now = Date.now();
    return { now, expiresAt: now + this.hours * 3_600_000, staleBefore: this.abandonedBefore(now) };
  }

  /**
   * Waits while the first request with the key runs, then answers what it got. `free` says what to do
   * when the key holds nothing live: take it (true: the caller runs) or give up (false: keep waiting).
   */
  async awaitFirst(k: DedupKey, free: () => Promise<boolean>): Promise<FirstAnswer> {
    const deadline = Date.now() + WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      const t = Date.now();
      // A claim this process holds is never abandoned, however stale it looks in the store (renewals
      // fail during an outage): its request ran, or runs, here. Wait for its answer.
      const p = this.held.has(idOf(k)) ? ({ state: 'running' } as const) : await this.store.peekDedup(k.scope, k.key, t, this.abandonedBefore(t));
      if (p.state === 'answered') return p;
      if (p.state === 'launched') {
        await this.resumeOrphan(k, p.answer, p.launchId);
        return { state: 'answered', answer: p.answer };
      }
      if (p.state === 'free' && (await free())) return { state: 'free' };
      if (Date.now() > deadline) return { state: 'still-running' };
      await sleep(lookAgainMs(attempt));
    }
  }

  /**
   * A dead process's request had written its launch: its answer is kept as the key's, and the launch
   * is let go to the background expander now rather than when its inline lease runs out.
   */
  private async resumeOrphan(k: DedupKey, answer: StoredAnswer, launchId: number): Promise<void> {
    await this.store.finishDedup(k.scope, k.key, answer);
    await this.store.leaseLaunch(launchId, null);
    this.deps.wake('launches');
    this.deps.log.warn({ key: k.key, launchId }, `a repeat of a request whose process died after writing launch ${launchId} answers with that launch, which is resumed`);
  }

  /** Claims the key for a request about to run (held and renewed until its answer is kept); false when another holds it. */
  async claim(k: DedupKey): Promise<boolean> {
    const { now, expiresAt, staleBefore } = this.times();
    if (!(await this.store.claimDedup(k.scope, k.key, now, expiresAt, staleBefore)).claimed) return false;
    this.held.set(idOf(k), { ...k, since: now });
    return true;
  }

  /**
   * Keeps the answer of a request that held the key (null: a fault, not worth repeating, lets the key go
   * unless its launch was written). The answer stands even when the store cannot keep it: keeping it is
   * then retried in the background, the claim still held, so a repeat waits for it rather than running.
   */
  async finish(k: DedupKey, answer: StoredAnswer | null): Promise<void> {
    const keep = answer ? () => this.store.finishDedup(k.scope, k.key, answer) : () => this.store.releaseDedup(k.scope, k.key);
    try {
      await keep();
      this.held.delete(idOf(k));
    } catch (err) {
      this.deps.log.warn({ err, key: k.key }, 'could not record the answer for deduplication; retrying in the background');
      this.track(this.keepLater(k, keep));
    }
  }

  /** Retries keeping an answer for up to KEEP_RETRY_MS, with backoff; after that (or at stop) the claim goes stale and a repeat runs again. */
  private async keepLater(k: DedupKey, keep: () => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + KEEP_RETRY_MS;
    for (let wait = 250; Date.now() < deadline; wait = Math.min(wait * 2, 5000)) {
      try {
        await sleep(wait, undefined, { ref: false, signal: this.stopping.signal });
      } catch {
        this.held.delete(idOf(k));
        this.deps.log.warn({ key: k.key }, 'stopping before a deduplication answer was recorded; a repeat of this request may run again');
        return;
      }
      try {
        await keep();
        this.held.delete(idOf(k));
        return;
      } catch {
        // the store is still unavailable; try again
      }
    }
    this.held.delete(idOf(k));
    this.deps.log.error({ key: k.key }, `could not record a deduplication answer for ${KEEP_RETRY_MS / 1000} s; a repeat of this request will run again`);
  }

  /** Keeps the answer of a request that never held the key (a refusal before its launch), or changes a sealed one's. */
  async keepUnclaimed(k: DedupKey, sealed: boolean, answer: StoredAnswer): Promise<void> {
    try {
      if (sealed) await this.store.finishDedup(k.scope, k.key, answer); // answered otherwise than its launch's write said
      else await this.store.answerDedup({ ...k, ...answer, ...this.times() });
    } catch (err) {
      this.deps.log.warn({ err, key: k.key }, 'could not record the answer for deduplication; a repeat of this request will run again');
    }
  }
}
