/**
 * The JSON body parser: Fastify's own (which refuses __proto__ and constructor.prototype keys), after
 * a check that the body is not nested deeper than MAX_DEPTH. Deep nesting serves no request and
 * would make every later walk over the body (rendering, queries, logging) recursive to that depth.
 *
 * No string of a request (body values and keys, query string, path parameters) may contain the NUL
 * character: PostgreSQL cannot store it in text and SQLite can, so refusing it here is what makes
 * both stores answer the same (400 naming the field).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../core/errors.ts';

const MAX_DEPTH = 32;

/** The deepest nesting of arrays and objects in a JSON text, counted outside strings. */
function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > max) max = depth;
    } else if (c === 125 || c === 93) depth--;
  }
  return max;
}

const NUL = '\u0000';
const NUL_RULE = 'must not contain the NUL character (\\u0000)';

/** What is wrong when some string in `value` (a value or a key) holds a NUL character, else null. */
function nulProblem(value: unknown, at = ''): string | null {
  if (typeof value === 'string') return value.includes(NUL) ? (at ? `field '${at}' ${NUL_RULE}` : `request body ${NUL_RULE}`) : null;
  if (value === null || typeof value !== 'object') return null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = nulProblem(value[i], `${at}[${i}]`);
      if (p) return p;
    }
    return null;
  }
  for (const [k, v] of Object.entries(value)) {
    if (k.includes(NUL)) return `field names${at ? ` in '${at}'` : ''} ${NUL_RULE}`;
    const p = nulProblem(v, at ? `${at}.${k}` : k);
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

export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  const parser = (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonDepth(text) > MAX_DEPTH) return done(badRequest(`request body is nested deeper than ${MAX_DEPTH} levels`));
    req.rawBody = text; // deduplication keys requests without a Request-ID by a checksum of it
    // JSON can only carry NUL escaped, so a body without the escape needs no walk.
    if (!text.includes('\\u0000')) return parse(req, text, done);
    parse(req, text, (err, value) => {
      const problem = err ? null : nulProblem(value);
      if (problem) return done(badRequest(problem));
      done(err, value);
    });
  };
  // Every API body is JSON whatever the header says: `curl -d` sends a form type, fetch text/plain.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, parser);
  app.addHook('preValidation', async (req) => {
    const problem = nulInUrl(req);
    if (problem) throw badRequest(problem);
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
  }
}
