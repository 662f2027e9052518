/**
 * Request deduplication (Altcraft's default for trigger calls): a repeat within SALVO_DEDUP_HOURS,
 * keyed by its Request-ID or X-Request-ID header, or else by a checksum of its path and body, is not
 * executed again; it gets the first answer back with `Duplicate-Request: true` and
 * `Duplicate-Key: <key>`. The key is claimed in the store before the request runs, so two identical
 * requests arriving together, even at different processes, execute once. Keys are per caller (the
 * token's name, or the v1.0 link).
 *
 * A claim is a marker in the store that lives with the process that made it: while the request runs,
 * the process renews the marker every RENEW_MS; one not renewed for ABANDONED_MS was left by a
 * process that died, and the next repeat runs instead of waiting for an answer that will never come.
 * The embedded SQLite store serves from one process, so there a marker last renewed before this
 * process started is abandoned at once (a repeat right after a crash and restart runs at once).
 *
 * Dry runs (`dry_run: true`) are not deduplicated: each runs, and its answer is not kept.
 */
import type { FastifyReply, FastifyRequest, onSendHookHandler, preValidationHookHandler } from 'fastify';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DedupStore, StoreLifecycle } from '../store/store.ts';
import { sendError } from './envelope.ts';

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

declare module 'fastify' {
  interface FastifyRequest {
    dedupClaim?: { scope: string; key: string };
  }
}

function keyOf(req: FastifyRequest): string | null {
  const id = req.headers['request-id'] ?? req.headers['x-request-id'];
  if (typeof id === 'string' && id !== '') return id.slice(0, 200);
  if (req.method === 'GET') return null; // a link opened again is a new trigger unless it says otherwise
  return createHash('sha256').update(`${req.method} ${req.routeOptions.url}\n${req.params ? JSON.stringify(req.params) : ''}\n${req.rawBody ?? ''}`).digest('hex');
}

const isDryRun = (body: unknown) => typeof body === 'object' && body !== null && (body as { dry_run?: unknown }).dry_run === true;

/** The claims this process holds, renewed together while any is held. */
class HeldClaims {
  private readonly held = new Map<string, { scope: string; key: string; since: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: DedupStore,
    private readonly log: (e: unknown) => void,
  ) {}

  add(scope: string, key: string): void {
    this.held.set(`${scope}\n${key}`, { scope, key, since: Date.now() });
    this.timer ??= setInterval(() => void this.renew(), RENEW_MS).unref();
  }

  has(scope: string, key: string): boolean {
    return this.held.has(`${scope}\n${key}`);
  }

  remove(scope: string, key: string): void {
    this.held.delete(`${scope}\n${key}`);
    if (this.held.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private async renew(): Promise<void> {
    const now = Date.now();
    for (const c of this.held.values()) if (now - c.since > MAX_RUN_MS) this.remove(c.scope, c.key);
    if (this.held.size === 0) return;
    await this.store.renewDedup([...this.held.values()], now).catch(this.log);
  }
}

export function dedupHooks(store: DedupStore & Pick<StoreLifecycle, 'dialect'>, hours: number, scopeOf: (req: FastifyRequest) => string): { preValidation: preValidationHookHandler[]; onSend: onSendHookHandler[] } {
  if (hours === 0) return { preValidation: [], onSend: [] };
  let lastPurge = 0;
  const startedAt = Date.now();
  let log: FastifyRequest['log'] | null = null;
  const held = new HeldClaims(store, (e) => log?.warn({ err: e }, 'renewing deduplication claims failed'));
  /** Claims last renewed before this are abandoned. */
  const abandonedBefore = (now: number) => (store.dialect === 'sqlite' ? Math.max(now - ABANDONED_MS, startedAt) : now - ABANDONED_MS);

  const claim = async (req: FastifyRequest, reply: FastifyReply) => {
    // A dry run stores nothing, its answer included: it neither claims a key nor is answered from one
    // (a real call's stored answer is not what a dry run asks for, whatever its Request-ID).
    if (isDryRun(req.body)) return;
    const key = keyOf(req);
    if (key === null) return;
    log ??= req.log;
    const scope = scopeOf(req);
    const now = Date.now();
    if (now - lastPurge > PURGE_EVERY_MS) {
      lastPurge = now;
      void store.purgeDedup(now).catch((e) => req.log.warn({ err: e }, 'purging old deduplication keys failed'));
    }
    for (const deadline = now + WAIT_MS; ; ) {
      const t = Date.now();
      // A claim this process holds is never abandoned, however stale it looks in the store (renewals
      // fail during an outage): its request ran, or runs, here. Wait for its answer.
      const c = held.has(scope, key) ? { claimed: false, answer: null } : await store.claimDedup(scope, key, t, t + hours * 3_600_000, abandonedBefore(t));
      if (c.claimed) {
        req.dedupClaim = { scope, key };
        held.add(scope, key);
        return;
      }
      if (c.answer) {
        return reply
          .code(c.answer.status)
          .headers({ ...c.answer.headers, 'content-type': 'application/json; charset=utf-8', 'duplicate-request': 'true', 'duplicate-key': key })
          .send(c.answer.body);
      }
      // The first request with this key is still running: its answer will be ours.
      if (Date.now() > deadline) return sendError(reply, 409, `a request with the key ${key} is still running; retry later`);
      await sleep(20);
    }
  };

  /** Retries keeping an answer for up to KEEP_RETRY_MS; after that the claim goes stale and a repeat runs again. */
  const keepLater = async (c: { scope: string; key: string }, keep: () => Promise<unknown>, log: FastifyRequest['log']) => {
    const deadline = Date.now() + KEEP_RETRY_MS;
    for (let wait = 250; Date.now() < deadline; wait = Math.min(wait * 2, 5000)) {
      await sleep(wait, undefined, { ref: false });
      try {
        await keep();
        held.remove(c.scope, c.key);
        return;
      } catch {
        // the store is still unavailable; try again
      }
    }
    held.remove(c.scope, c.key);
    log.error({ key: c.key }, `could not record a deduplication answer for ${KEEP_RETRY_MS / 1000} s; a repeat of this request will run again`);
  };

  const record: onSendHookHandler = async (req, reply, payload) => {
    const c = req.dedupClaim;
    if (!c) return payload;
    req.dedupClaim = undefined;
    // The request has run: its answer stands even when the store cannot keep it (a 503 here would
    // tell the caller to repeat a trigger that was stored). Keeping the answer is then retried in
    // the background, the claim still held (renewed), so a repeat waits for it rather than running again.
    const keep = reply.statusCode >= 500
      ? () => store.releaseDedup(c.scope, c.key) // a fault is not an answer worth repeating
      : () => {
          const launch = reply.getHeader('launch-id');
          const headers: Record<string, string> = launch === undefined ? {} : { 'launch-id': String(launch) };
          return store.finishDedup(c.scope, c.key, { status: reply.statusCode, headers, body: typeof payload === 'string' ? payload : String(payload) });
        };
    try {
      await keep();
      held.remove(c.scope, c.key);
    } catch (err) {
      req.log.warn({ err, key: c.key }, 'could not record the answer for deduplication; retrying in the background');
      void keepLater(c, keep, req.log);
    }
    return payload;
  };

  return { preValidation: [claim as preValidationHookHandler], onSend: [record] };
}
