/**
 * The process's one logger: pino (what Fastify logs with), made first in the composition root so that
 * the store, channels and workers log through it before the HTTP server exists; requests log through
 * Fastify's children of it.
 */
import type { FastifyBaseLogger } from 'fastify';
import { pino } from 'pino';
import type { Config } from './config.ts';

export type Log = FastifyBaseLogger;

export function createLog(level: Config['logLevel']): Log {
  return pino({
    level,
    // Access logs keep neither tokens (?token=) nor v1.0 link keys, which are credentials too.
    serializers: { req: (req: { method: string; url: string; ip?: string }) => ({ method: req.method, url: redactUrl(req.url), remoteAddress: req.ip }) },
  });
}

/** A URL fit for the log: no v1.0 link key, and every `token` parameter of the query string redacted. */
function redactUrl(url: string): string {
  const q = url.indexOf('?');
  const path = (q < 0 ? url : url.slice(0, q)).replace(/\/trg\/[^/]+/, '/trg/[key]');
  if (q < 0) return path;
  const query = url
    .slice(q + 1)
    .split('&')
    .map((pair) => {
      const name = pair.split('=', 1)[0];
      let decoded = name;
      try {
        decoded = decodeURIComponent(name.replace(/\+/g, ' '));
      } catch {
        // a malformed escape is left as it is
      }
      return decoded.trim().toLowerCase() === 'token' ? `${name}=[redacted]` : pair;
    })
    .join('&');
  return `${path}?${query}`;
}
