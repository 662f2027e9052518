/**
 * The API token, checked before the body is read (issue 24): a token in the Authorization header or the
 * query string is verified in onRequest, so a caller without a valid one is answered 401 or 403 before
 * a byte of its body is read. A request whose token can only be in its body (Altcraft's form) and whose
 * body is large waits for one of UNVERIFIED_LARGE_BODIES slots: it is read and its token walked to as it
 * arrives (http/json-body.ts, `tokenFirst`), parsed only once that token is verified, and gives the slot
 * back when it is answered. The route's own check (`requireToken`, preValidation) still runs after.
 */
import type { FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify';
import { forbidden, unauthorized } from '../core/errors.ts';
import type { TokenVerifier } from '../engine/tokens.ts';
import { Slots } from '../support/slots.ts';

/** Bodies larger than this, with no token outside them, take a slot. */
const LARGE_BODY_BYTES = 1024 * 1024;
/** How many such bodies are read at once; the others wait (their request timeout still runs). */
const UNVERIFIED_LARGE_BODIES = 4;

/** The token in the Authorization header (Bearer) or the query string, as `presentedToken` reads them; null when neither has one. */
function tokenOutsideBody(req: FastifyRequest): string | null {
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+\S+$/i.test(auth)) return auth.replace(/^Bearer\s+/i, '');
  const q = (req.query as { token?: unknown } | undefined)?.token;
  return typeof q === 'string' && q !== '' ? q : null;
}

export function tokenBeforeBody(verifier: TokenVerifier): { onRequest: onRequestHookHandler; tokenFirst: (req: FastifyRequest, token: string | undefined) => Promise<void> } {
  const slots = new Slots(UNVERIFIED_LARGE_BODIES);
  const verify = async (req: FastifyRequest, token: string) => {
    const found = await verifier.verify(token);
    if (found === null) throw forbidden('API token is not valid');
    // The role is checked with the route's access class by requireToken (preValidation).
    req.tokenName = found.name;
    req.tokenRole = found.role;
  };
  return {
    async onRequest(req: FastifyRequest, reply: FastifyReply) {
      const token = tokenOutsideBody(req);
      if (token !== null) return verify(req, token);
      const length = req.headers['content-length'];
      if (length !== undefined && Number(length) <= LARGE_BODY_BYTES) return;
      const abort = new AbortController();
      req.raw.once('close', () => abort.abort(new Error('the client went away')));
      const giveBack = await slots.take(abort.signal);
      reply.raw.once('close', giveBack);
      req.raw.once('close', giveBack);
    },
    /** For the body reader: a large body's top-level token, verified before the body is parsed. */
    async tokenFirst(req: FastifyRequest, token: string | undefined) {
      if (token === undefined) throw unauthorized('API token required');
      await verify(req, token);
    },
  };
}
