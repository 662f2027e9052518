/**
 * Request deduplication (Altcraft's default for trigger calls): a repeat within SALVO_DEDUP_HOURS,
 * keyed by its Request-ID or X-Request-ID header, or else by a checksum of its path and body, is not
 * executed again; it gets the first answer back with `Duplicate-Request: true` and
 * `Duplicate-Key: <key>`. The key is claimed in the store before the request runs, so two identical
 * requests arriving together, even at different processes, execute once. Keys are per caller (the
 * token's name, or the v1.0 link).
 */
import type { FastifyReply, FastifyRequest, onSendHookHandler, preValidationHookHandler } from 'fastify';
import { createHash } from 'node:crypto';
import type { Store } from '../store/store.ts';
import { sendError } from './envelope.ts';

/** A request holding a claim that ran past this is taken to have died with its process. */
const STALE_MS = 60_000;
const WAIT_MS = 30_000;
const PURGE_EVERY_MS = 10 * 60_000;

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

export function dedupHooks(store: Store, hours: number, scopeOf: (req: FastifyRequest) => string): { preValidation: preValidationHookHandler[]; onSend: onSendHookHandler[] } {
  if (hours === 0) return { preValidation: [], onSend: [] };
  let lastPurge = 0;

  const claim = async (req: FastifyRequest, reply: FastifyReply) => {
    const key = keyOf(req);
    if (key === null) return;
    const scope = scopeOf(req);
    const now = Date.now();
    if (now - lastPurge > PURGE_EVERY_MS) {
      lastPurge = now;
      void store.purgeDedup(now).catch((e) => req.log.warn({ err: e }, 'purging old deduplication keys failed'));
    }
    for (const deadline = now + WAIT_MS; ; ) {
      const c = await store.claimDedup(scope, key, Date.now(), Date.now() + hours * 3_600_000, Date.now() - STALE_MS);
      if (c.claimed) {
        req.dedupClaim = { scope, key };
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
      await new Promise((r) => setTimeout(r, 20));
    }
  };

  const record: onSendHookHandler = async (req, reply, payload) => {
    const c = req.dedupClaim;
    if (!c) return payload;
    req.dedupClaim = undefined;
    // The request has run: its answer stands even when the store cannot keep it (a 503 here would
    // tell the caller to repeat a trigger that was stored). The claim then stays pending until stale.
    try {
      if (reply.statusCode >= 500) {
        await store.releaseDedup(c.scope, c.key); // a fault is not an answer worth repeating
      } else {
        const launch = reply.getHeader('launch-id');
        const headers: Record<string, string> = launch === undefined ? {} : { 'launch-id': String(launch) };
        await store.finishDedup(c.scope, c.key, { status: reply.statusCode, headers, body: typeof payload === 'string' ? payload : String(payload) });
      }
    } catch (err) {
      req.log.error({ err, key: c.key }, 'could not record the answer for deduplication; a repeat of this request waits until the claim is stale');
    }
    return payload;
  };

  return { preValidation: [claim as preValidationHookHandler], onSend: [record] };
}
