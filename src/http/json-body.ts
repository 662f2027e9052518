/**
 * The JSON body parser: Fastify's own (which refuses __proto__ and constructor.prototype keys), after
 * a check that the body is not nested deeper than MAX_DEPTH. Deep nesting serves no request and
 * would make every later walk over the body (rendering, queries, logging) recursive to that depth.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { badRequest } from '../core/errors.ts';

export const MAX_DEPTH = 32;

/** The deepest nesting of arrays and objects in a JSON text, counted outside strings. */
export function jsonDepth(text: string): number {
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

export function installJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  const parser = (req: FastifyRequest, body: string | Buffer, done: (err: Error | null, body?: unknown) => void) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (jsonDepth(text) > MAX_DEPTH) return done(badRequest(`request body is nested deeper than ${MAX_DEPTH} levels`));
    req.rawBody = text; // deduplication keys requests without a Request-ID by a checksum of it
    parse(req, text, done);
  };
  // Every API body is JSON whatever the header says: `curl -d` sends a form type, fetch text/plain.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, parser);
}

declare module 'fastify' {
  interface FastifyRequest {
    rawBody?: string;
  }
}
