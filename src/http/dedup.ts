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
import type { RouteHooks } from './api.ts';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { DuplicateRequest } from '../core/errors.ts';
import type { RequestKey } from '../engine/launch.ts';
import type { DedupSeal, StoredAnswer } from '../store/queries/dedup.ts';
import type { DedupStore, StoreLifecycle } from '../store/store.ts';
import { sendError, SUCCESS } from './envelope.ts';

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
    /** `start`'s key, looked at but not yet claimed: the launch seals or claims it. */
    dedupKey?: LaunchKey;
  }
  interface FastifyContextConfig {
    /** The route takes its parameters in the query string: they count in the checksum key. */
    queryInDedupKey?: boolean;
  }
}

/**
 * The query string's parameters but the token, as they count in the checksum of a route that takes its
 * parameters there (config `queryInDedupKey`: the quick import). Elsewhere the query counts for nothing:
 * `?format=json` on a repeat is still the same request.
 */
function queryPart(req: FastifyRequest): string {
  if (req.routeOptions.config?.queryInDedupKey !== true) return '';
  const { token: _token, ...rest } = (req.query ?? {}) as Record<string, unknown>;
  return Object.keys(rest).length === 0 ? '' : `\n${JSON.stringify(rest)}`;
}

function keyOf(req: FastifyRequest): string | null {
  const id = req.headers['request-id'] ?? req.headers['x-request-id'];
  if (typeof id === 'string' && id !== '') return id.slice(0, 200);
  if (req.method === 'GET') return null; // a link opened again is a new trigger unless it says otherwise
  return createHash('sha256').update(`${req.method} ${req.routeOptions.url}\n${req.params ? JSON.stringify(req.params) : ''}\n${req.rawBody ?? ''}${queryPart(req)}`).digest('hex');
}

/** The answer a sealed launch keeps: `start`'s success, the launch's id in its header (the store adds it). */
const SEALED_BODY = JSON.stringify({ error: 0, error_text: SUCCESS, data: null });

/** The headers a kept answer repeats: the launch's id, and its type when it is not the envelope's JSON (quick import's text). */
const keptHeaders = (reply: FastifyReply): Record<string, string> => {
  const launch = reply.getHeader('launch-id');
  const type = reply.getHeader('content-type');
  return {
    ...(launch === undefined ? {} : { 'launch-id': String(launch) }),
    ...(typeof type === 'string' && !type.startsWith('application/json') ? { 'content-type': type } : {}),
  };
};

/**
 * The key of a request that writes its launch in one transaction: free when looked at, then sealed
 * by that write or claimed before a launch that spans transactions (RequestKey). A request that lost
 * it to another gets that one's answer (answerAsRepeat, from the error handler).
 */
class LaunchKey implements RequestKey {
  state: 'free' | 'sealed' | 'claimed' | 'repeat' = 'free';
  constructor(
    readonly scope: string,
    readonly key: string,
    private readonly ops: { seal(): DedupSeal; claim(): Promise<void>; answerAsRepeat(reply: FastifyReply): Promise<unknown> },
  ) {}
  seal(): DedupSeal {
    this.state = 'sealed';
    return this.ops.seal();
  }
  async claim(): Promise<void> {
    await this.ops.claim();
    this.state = 'claimed';
  }
  answerAsRepeat(reply: FastifyReply): Promise<unknown> {
    this.state = 'repeat';
    return this.ops.answerAsRepeat(reply);
  }
}

const isDryRun = (body: unknown) => typeof body === 'object' && body !== null && (body as { dry_run?: unknown }).dry_run === true;

/** The hooks of the methods that launch: most claim the key before running; `start` claims it with its launch's write. */
export interface DedupHooks {
  claimFirst: RouteHooks;
  claimAtWrite: RouteHooks;
}
const NO_HOOKS: RouteHooks = { preValidation: [], onSend: [] };

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

export function dedupHooks(store: DedupStore & Pick<StoreLifecycle, 'dialect'>, hours: number, scopeOf: (req: FastifyRequest) => string): DedupHooks {
  if (hours === 0) return { claimFirst: NO_HOOKS, claimAtWrite: NO_HOOKS };
  let lastPurge = 0;
  const startedAt = Date.now();
  let log: FastifyRequest['log'] | null = null;
  const held = new HeldClaims(store, (e) => log?.warn({ err: e }, 'renewing deduplication claims failed'));
  /** Claims last renewed before this are abandoned. */
  const abandonedBefore = (now: number) => (store.dialect === 'sqlite' ? Math.max(now - ABANDONED_MS, startedAt) : now - ABANDONED_MS);

  /** Where a request with a key starts: none if it has none (a dry run, a GET link); else the purge runs now and then. */
  const keyed = (req: FastifyRequest): { scope: string; key: string } | null => {
    // A dry run stores nothing, its answer included: it neither claims a key nor is answered from one
    // (a real call's stored answer is not what a dry run asks for, whatever its Request-ID).
    if (isDryRun(req.body)) return null;
    const key = keyOf(req);
    if (key === null) return null;
    log ??= req.log;
    const now = Date.now();
    if (now - lastPurge > PURGE_EVERY_MS) {
      lastPurge = now;
      void store.purgeDedup(now).catch((e) => req.log.warn({ err: e }, 'purging old deduplication keys failed'));
    }
    return { scope: scopeOf(req), key };
  };

  const sendRepeat = (reply: FastifyReply, key: string, answer: StoredAnswer) =>
    reply
      .code(answer.status)
      .headers({ 'content-type': 'application/json; charset=utf-8', ...answer.headers, 'duplicate-request': 'true', 'duplicate-key': key })
      .send(answer.body);

  /**
   * Waits while the first request with the key runs, then answers what it got. `free` says what to do
   * when the key holds nothing live: take it (the caller runs) or, for a request that lost the key at
   * its write, give up (the first one failed; the caller may repeat).
   */
  const awaitFirst = async (reply: FastifyReply, scope: string, key: string, free: () => Promise<boolean>) => {
    for (const deadline = Date.now() + WAIT_MS; ; ) {
      const t = Date.now();
      // A claim this process holds is never abandoned, however stale it looks in the store (renewals
      // fail during an outage): its request ran, or runs, here. Wait for its answer.
      const p = held.has(scope, key) ? ({ state: 'running' } as const) : await store.peekDedup(scope, key, t, abandonedBefore(t));
      if (p.state === 'answered') return sendRepeat(reply, key, p.answer);
      if (p.state === 'free' && (await free())) return;
      // The first request with this key is still running: its answer will be ours.
      if (Date.now() > deadline) return sendError(reply, 409, `a request with the key ${key} is still running; retry later`);
      await sleep(20);
    }
  };

  /** When a key taken now stops holding: its answer's lifetime, and claims older than this were abandoned. */
  const times = () => {
    const t = Date.now();
    return { now: t, expiresAt: t + hours * 3_600_000, staleBefore: abandonedBefore(t) };
  };

  /** Claims the key for this request (held and renewed until its answer is kept); false when another holds it. */
  const takeClaim = async (req: FastifyRequest, k: { scope: string; key: string }) => {
    const { now, expiresAt, staleBefore } = times();
    if (!(await store.claimDedup(k.scope, k.key, now, expiresAt, staleBefore)).claimed) return false;
    req.dedupClaim = k;
    held.add(k.scope, k.key);
    return true;
  };

  /** For methods whose launch spans transactions: the key is claimed before the request runs. */
  const claimFirst = async (req: FastifyRequest, reply: FastifyReply) => {
    const k = keyed(req);
    if (!k) return;
    return awaitFirst(reply, k.scope, k.key, () => takeClaim(req, k));
  };

  /** For `start`: the key is only looked at here; the launch claims it with its own write (RequestKey). */
  const claimAtWrite = async (req: FastifyRequest, reply: FastifyReply) => {
    const k = keyed(req);
    if (!k) return;
    return awaitFirst(reply, k.scope, k.key, async () => {
      req.dedupKey = new LaunchKey(k.scope, k.key, {
        claim: async () => {
          if (!(await takeClaim(req, k))) throw new DuplicateRequest(k.key);
        },
        seal: () => ({ scope: k.scope, key: k.key, status: 200, body: SEALED_BODY, ...times() }),
        answerAsRepeat: (reply) => awaitFirst(reply, k.scope, k.key, async () => false),
      });
      return true;
    });
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

  /** A key the launch sealed, or never took (a refusal before it, a fault), kept or left as its answer says. */
  const recordUnclaimed = async (req: FastifyRequest, reply: FastifyReply, k: LaunchKey, body: string) => {
    const status = reply.statusCode;
    // A fault is not an answer worth repeating; a sealed launch's commit, if it happened, keeps its own answer.
    if (status >= 500 || (k.state === 'sealed' && status === 200 && body === SEALED_BODY)) return;
    const answer = { status, headers: keptHeaders(reply), body };
    try {
      if (k.state === 'sealed') await store.finishDedup(k.scope, k.key, answer); // answered otherwise than its launch's write said
      else await store.answerDedup({ scope: k.scope, key: k.key, ...answer, ...times() });
    } catch (err) {
      req.log.warn({ err, key: k.key }, 'could not record the answer for deduplication; a repeat of this request will run again');
    }
  };

  const record: onSendHookHandler = async (req, reply, payload) => {
    const k = req.dedupKey;
    req.dedupKey = undefined;
    if (k && k.state !== 'claimed' && k.state !== 'repeat') await recordUnclaimed(req, reply, k, typeof payload === 'string' ? payload : String(payload));
    const c = req.dedupClaim;
    if (!c) return payload;
    req.dedupClaim = undefined;
    // The request has run: its answer stands even when the store cannot keep it (a 503 here would
    // tell the caller to repeat a trigger that was stored). Keeping the answer is then retried in
    // the background, the claim still held (renewed), so a repeat waits for it rather than running again.
    const keep = reply.statusCode >= 500
      ? () => store.releaseDedup(c.scope, c.key) // a fault is not an answer worth repeating
      : () => store.finishDedup(c.scope, c.key, { status: reply.statusCode, headers: keptHeaders(reply), body: typeof payload === 'string' ? payload : String(payload) });
    try {
      await keep();
      held.remove(c.scope, c.key);
    } catch (err) {
      req.log.warn({ err, key: c.key }, 'could not record the answer for deduplication; retrying in the background');
      void keepLater(c, keep, req.log);
    }
    return payload;
  };

  return {
    claimFirst: { preValidation: [claimFirst as preValidationHookHandler], onSend: [record] },
    claimAtWrite: { preValidation: [claimAtWrite as preValidationHookHandler], onSend: [record] },
  };
}
