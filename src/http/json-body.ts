/**
 * The JSON body parser: Fastify's own (which refuses __proto__ and constructor.prototype keys), after
 * a check that the body is not nested deeper than MAX_DEPTH. Deep nesting serves no request and
 * would make every later walk over the body (rendering, queries, logging) recursive to that depth.
 *
 * The body is read as a stream and walked a chunk at a time as it arrives (http/json-scan.ts): its
 * depth, and the top-level "token". Where the API token may be in the body, a large body is parsed only
 * after that token is verified (`tokenFirst`), so a flood of large bodies without a valid token costs
 * their bytes, never a JSON.parse that holds the event loop (a token in the header or the query string
 * is checked before the body is read at all: http/token-before-body.ts). A body of a megabyte or more is
 * parsed without its large strings, which are kept as bytes (http/large-strings.ts).
 *
 * No string of a request (body values and keys, query string, path parameters) may contain the NUL
 * character: PostgreSQL cannot store it in text and SQLite can, so refusing it here is what makes
 * both stores answer the same (400 naming the field).
 */
import { createHash } from 'node:crypto';
import { errorCodes, type FastifyInstance, type FastifyRequest } from 'fastify';
import { badRequest } from '../core/errors.ts';
import { JsonScan } from './json-scan.ts';
import { handOverHeldStrings, putBack, TAKE_OUT_FROM_BYTES, takeOut } from './large-strings.ts';

const MAX_DEPTH = 32;
/** Bodies from this size on are parsed only once the token they carry is verified (smaller ones cost less than the check). */
const VERIFY_BEFORE_PARSE_BYTES = 64 * 1024;

const NUL = '\u0000';
const NUL_RULE = 'must not contain the NUL character (\\u0000)';

/**
 * What is wrong when some string in `value` (a value or a key) holds a NUL character, else null. `allowed`:
 * the placeholders of a large body's attachments (http/large-strings.ts), which hold one on purpose.
 */
function nulProblem(value: unknown, at = '', allowed?: Set<string>): string | null {
  if (typeof value === 'string') return value.includes(NUL) && !allowed?.has(value) ? (at ? `field '${at}' ${NUL_RULE}` : `request body ${NUL_RULE}`) : null;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = nulProblem(value[i], `${at}[${i}]`, allowed);
      if (p) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.includes(NUL)) return `field names${at ? ` in '${at}'` : ''} ${NUL_RULE}`;
    const p = nulProblem(v, at ? `${at}.${k}` : k, allowed);
    if (p) return p;
  }
  return null;
}

/** The same for the query string and path parameters, named as such. */
function nulInUrl(req: FastifyRequest): string | null {
  for (const [where, values] of [['in the query string', req.query], ['in the path', req.params]] as const) {
    if (!values || typeof values !== 'object') continue;
    for (const [k, v] of Object.entries(values)) {
      if (k.includes(NUL) || [v].flat().some((s) => typeof s === 'string' && s.includes(NUL))) return `'${k.replaceAll(NUL, '')}' ${where} ${NUL_RULE}`;
    }
  }
  return null;
}

/**
 * `tokenFirst`, where the API token may be in the body: verifies the body's top-level token (undefined:
 * none) before a large body is parsed, throwing the 401 or 403 that answers the request.
 */
export function useJsonBodies(app: FastifyInstance, o: { tokenFirst?: (req: FastifyRequest, token: string | undefined) => Promise<void> } = {}): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  const finish = (req: FastifyRequest, text: string, done: (err: Error | null, body?: unknown) => void) => {
    // JSON can only carry NUL escaped, so a body without the escape needs no walk.
    if (!text.includes('\\u0000')) return parse(req, text, done);
    parse(req, text, (err, value) => {
      const problem = err ? null : nulProblem(value);
      if (problem) return done(badRequest(problem));
      done(err, value);
    });
  };
  /** A large body without its large strings (http/large-strings.ts): the skeleton parsed, the strings put back. */
  const finishTakenOut = (req: FastifyRequest, chunks: Buffer[], total: number, spans: readonly { start: number; end: number }[], done: (err: Error | null, body?: unknown) => void) => {
    const { skeleton, strings } = takeOut(chunks, total, spans);
    parse(req, skeleton, (err, value) => {
      if (err) return done(err);
      try {
        const placeholders = putBack(value, strings, req);
        const problem = nulProblem(value, '', placeholders);
        if (problem) return done(badRequest(problem));
        done(null, value);
      } catch (e) {
        done(e as Error);
      }
    });
  };
  const reader = (req: FastifyRequest, payload: NodeJS.ReadableStream, done: (err: Error | null, body?: unknown) => void) => {
    const limit = req.routeOptions.bodyLimit ?? app.initialConfig.bodyLimit ?? 1024 * 1024;
    const declared = Number(req.headers['content-length']);
    if (declared > limit) return done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    const scan = new JsonScan();
    const digest = createHash('sha256');
    const chunks: Buffer[] = [];
    let received = 0;
    let failed = false;
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      payload.removeListener('data', onData);
      payload.resume(); // the rest is read and dropped; the answer does not wait for it
      done(err);
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) return fail(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      scan.feed(chunk);
      if (scan.maxDepth > MAX_DEPTH) return fail(badRequest(`request body is nested deeper than ${MAX_DEPTH} levels`));
      digest.update(chunk);
      chunks.push(chunk);
    };
    payload.on('data', onData);
    payload.on('error', (err: Error) => fail(err));
    payload.on('end', async () => {
      if (failed) return;
      if (Number.isFinite(declared) && req.headers['content-length'] !== undefined && received !== declared) return fail(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      // deduplication keys requests without a Request-ID by a checksum of the body
      req.bodyDigest = digest.digest('hex');
      try {
        if (o.tokenFirst && req.tokenName === undefined && received >= VERIFY_BEFORE_PARSE_BYTES) await o.tokenFirst(req, scan.token() ?? undefined);
      } catch (err) {
        return fail(err as Error);
      }
      if (received >= TAKE_OUT_FROM_BYTES && scan.largeStrings.length > 0) return finishTakenOut(req, chunks, received, scan.largeStrings, done);
      finish(req, Buffer.concat(chunks, received).toString('utf8'), done);
    });
  };
  // Every API body is JSON whatever the header says: `curl -d` sends a form type, fetch text/plain.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', reader);
  handOverHeldStrings(app);
}

/** The JSON bodies of every route (the API scope reads its own with `tokenFirst`), and the NUL check of URLs. */
export function installJsonParser(app: FastifyInstance): void {
  useJsonBodies(app);
  app.addHook('preValidation', async (req) => {
    const problem = nulInUrl(req);
    if (problem) throw badRequest(problem);
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** A body that is no JSON (quick import's form), as deduplication's checksum reads it. */
    rawBody?: string;
    /** The SHA-256 of the body's bytes (hex), for deduplication's checksum. */
    bodyDigest?: string;
  }
}
