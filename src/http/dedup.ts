/**
 * Request deduplication (Altcraft's default for trigger calls): a repeat within SALVO_DEDUP_HOURS,
 * keyed by its Request-ID or X-Request-ID header, or else by a checksum of its path and body, is not
 * executed again; it gets the first answer back with `Duplicate-Request: true` and
 * `Duplicate-Key: <key>`. The key is claimed in the store before the request runs, so two identical
 * requests arriving together, even at different processes, execute once. Keys are per caller (the
 * token's name, or the v1.0 link).
 *
 * This file is the HTTP side: which requests have a key and what it is, the hooks, the answers. The
 * claims, their renewal, the wait for a first answer and the answers kept later are the engine's
 * (engine/dedup.ts `RequestDedup`, one per app, with its own start and stop).
 *
 * Dry runs (`dry_run: true`) are not deduplicated: each runs, and its answer is not kept.
 */
import type { FastifyReply, FastifyRequest, onSendHookHandler, preValidationHookHandler } from 'fastify';
import type { RouteHooks } from './api.ts';
import { createHash } from 'node:crypto';
import { DuplicateRequest } from '../core/errors.ts';
import type { DedupKey, RequestDedup } from '../engine/dedup.ts';
import type { RequestKey } from '../engine/launch.ts';
import type { DedupMark, DedupSeal, StoredAnswer } from '../store/queries/dedup.ts';
import { sendError, SUCCESS } from './envelope.ts';

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
  return createHash('sha256').update(`${req.method} ${req.routeOptions.url}\n${req.params ? JSON.stringify(req.params) : ''}\n${req.bodyDigest ?? req.rawBody ?? ''}${queryPart(req)}`).digest('hex');
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
    private readonly ops: { seal(): DedupSeal; claim(): Promise<DedupMark>; answerAsRepeat(reply: FastifyReply): Promise<unknown> },
  ) {}
  seal(): DedupSeal {
    this.state = 'sealed';
    return this.ops.seal();
  }
  async claim(): Promise<DedupMark> {
    const mark = await this.ops.claim();
    this.state = 'claimed';
    return mark;
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

export function dedupHooks(dedup: RequestDedup, scopeOf: (req: FastifyRequest) => string): DedupHooks {
  if (dedup.hours === 0) return { claimFirst: NO_HOOKS, claimAtWrite: NO_HOOKS };

  /** Where a request with a key starts: none if it has none (a dry run, a GET link). */
  const keyed = (req: FastifyRequest): DedupKey | null => {
    // A dry run stores nothing, its answer included: it neither claims a key nor is answered from one
    // (a real call's stored answer is not what a dry run asks for, whatever its Request-ID).
    if (isDryRun(req.body)) return null;
    const key = keyOf(req);
    return key === null ? null : { scope: scopeOf(req), key };
  };

  const sendRepeat = (reply: FastifyReply, key: string, answer: StoredAnswer) =>
    reply
      .code(answer.status)
      .headers({ 'content-type': 'application/json; charset=utf-8', ...answer.headers, 'duplicate-request': 'true', 'duplicate-key': key })
      .send(answer.body);

  /** Waits while the first request with the key runs, then answers what it got (engine/dedup.ts `awaitFirst`). */
  const awaitFirst = async (reply: FastifyReply, k: DedupKey, free: () => Promise<boolean>) => {
    const first = await dedup.awaitFirst(k, free);
    if (first.state === 'answered') return sendRepeat(reply, k.key, first.answer);
    if (first.state === 'still-running') return sendError(reply, 409, `a request with the key ${k.key} is still running; retry later`);
  };

  /** Claims the key for this request (held and renewed until its answer is kept); false when another holds it. */
  const takeClaim = async (req: FastifyRequest, k: DedupKey) => {
    if (!(await dedup.claim(k))) return false;
    req.dedupClaim = k;
    return true;
  };

  /** For methods whose launch spans transactions: the key is claimed before the request runs. */
  const claimFirst = async (req: FastifyRequest, reply: FastifyReply) => {
    const k = keyed(req);
    if (!k) return;
    return awaitFirst(reply, k, () => takeClaim(req, k));
  };

  /** For `start`: the key is only looked at here; the launch claims it with its own write (RequestKey). */
  const claimAtWrite = async (req: FastifyRequest, reply: FastifyReply) => {
    const k = keyed(req);
    if (!k) return;
    return awaitFirst(reply, k, async () => {
      req.dedupKey = new LaunchKey(k.scope, k.key, {
        claim: async () => {
          if (!(await takeClaim(req, k))) throw new DuplicateRequest(k.key);
          return { ...k, status: 200, body: SEALED_BODY };
        },
        // Written out, not spread: on the accept path a spread into a literal took V8's slow paths (a few thousand instructions each).
        seal: () => {
          const t = dedup.times();
          return { scope: k.scope, key: k.key, status: 200, body: SEALED_BODY, now: t.now, expiresAt: t.expiresAt, staleBefore: t.staleBefore };
        },
        answerAsRepeat: (reply) => awaitFirst(reply, k, async () => false),
      });
      return true;
    });
  };

  /** A key the launch sealed, or never took (a refusal before it, a fault), kept or left as its answer says. */
  const recordUnclaimed = async (reply: FastifyReply, k: LaunchKey, body: string) => {
    const status = reply.statusCode;
    // A fault is not an answer worth repeating; a sealed launch's commit, if it happened, keeps its own answer.
    if (status >= 500 || (k.state === 'sealed' && status === 200 && body === SEALED_BODY)) return;
    await dedup.keepUnclaimed(k, k.state === 'sealed', { status, headers: keptHeaders(reply), body });
  };

  const record: onSendHookHandler = async (req, reply, payload) => {
    const k = req.dedupKey;
    req.dedupKey = undefined;
    if (k && k.state !== 'claimed' && k.state !== 'repeat') await recordUnclaimed(reply, k, typeof payload === 'string' ? payload : String(payload));
    const c = req.dedupClaim;
    if (!c) return payload;
    req.dedupClaim = undefined;
    // The request has run: its answer stands, kept in the background when the store cannot take it now.
    // A fault (5xx) is not an answer worth repeating, unless the request had written its launch.
    await dedup.finish(c, reply.statusCode >= 500 ? null : { status: reply.statusCode, headers: keptHeaders(reply), body: typeof payload === 'string' ? payload : String(payload) });
    return payload;
  };

  return {
    claimFirst: { preValidation: [claimFirst as preValidationHookHandler], onSend: [record] },
    claimAtWrite: { preValidation: [claimAtWrite as preValidationHookHandler], onSend: [record] },
  };
}
