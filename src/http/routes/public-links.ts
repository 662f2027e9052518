/**
 * The public links of email, outside the API-token scope: the one-click unsubscribe (RFC 8058: a POST to the
 * List-Unsubscribe URL; a GET shows a confirmation page and changes nothing, since scanners fetch links), the
 * open pixel and the click redirects. The signed token in the path is the only credential: an unsigned or
 * altered one is a 404 and changes nothing. One rate limit per client address covers the family.
 */
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { PUBLIC_PATHS } from '../../core/public-links.ts';
import { clickThrough, type EngagementDeps, isUnsubscribeToken, openThrough, unsubscribeThrough } from '../../engine/engagement.ts';
import { RateLimiter } from '../rate-limit.ts';

/** A transparent 1x1 GIF. */
const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');

const PAGE_HEADERS = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
};

const page = (title: string, body: string) =>
  `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${title}</title>` +
  `<style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}button{font:inherit;padding:.5rem 1rem}</style></head>` +
  `<body><h1>${title}</h1>${body}</body></html>`;

const CONFIRM = page(
  'Unsubscribe',
  '<p>Stop receiving these emails?</p><form method="post"><input type="hidden" name="List-Unsubscribe" value="One-Click"><button type="submit">Unsubscribe</button></form>',
);
const DONE = page('You are unsubscribed', '<p>You will not receive these emails any more.</p>');

const notFound = (reply: FastifyReply) => reply.code(404).header('content-type', 'text/plain; charset=utf-8').header('cache-control', 'no-store').send('Not found');

const clientOf = (req: FastifyRequest) => ({ ip: req.ip ?? null, userAgent: typeof req.headers['user-agent'] === 'string' ? req.headers['user-agent'] : null });

export const publicLinkRoutes: FastifyPluginAsync<EngagementDeps & { ratePerMinute: number }> = async (app, deps) => {
  const limiter = new RateLimiter(deps.ratePerMinute, 60_000);
  app.addHook('onRequest', async (req, reply) => {
    if (!limiter.take(req.ip)) return reply.code(429).header('retry-after', '60').header('content-type', 'text/plain; charset=utf-8').send('Too many requests');
  });
  // A one-click POST is form-encoded (List-Unsubscribe=One-Click); whatever its type, the body only has to arrive.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, body));

  const unsubscribe = `${PUBLIC_PATHS.unsubscribe}:token`;
  app.get(unsubscribe, { schema: { hide: true } }, async (req, reply) => {
    const { token } = req.params as { token: string };
    if (!isUnsubscribeToken(deps, token)) return notFound(reply);
    return reply.headers(PAGE_HEADERS).send(CONFIRM);
  });
  app.post(unsubscribe, { schema: { hide: true } }, async (req, reply) => {
    const { token } = req.params as { token: string };
    const done = await unsubscribeThrough(deps, token);
    if (done === null) return notFound(reply);
    return reply.headers(PAGE_HEADERS).send(DONE);
  });

  app.get(`${PUBLIC_PATHS.open}:file`, { schema: { hide: true } }, async (req, reply) => {
    const { file } = req.params as { file: string };
    if (!file.endsWith('.gif') || !(await openThrough(deps, file.slice(0, -4), clientOf(req)))) return notFound(reply);
    return reply.header('content-type', 'image/gif').header('cache-control', 'no-store, max-age=0').send(PIXEL);
  });

  app.get(`${PUBLIC_PATHS.click}:token`, { schema: { hide: true } }, async (req, reply) => {
    const { token } = req.params as { token: string };
    const url = (req.query as { u?: unknown }).u;
    const to = typeof url === 'string' ? await clickThrough(deps, token, url, clientOf(req)) : null;
    if (to === null) return notFound(reply);
    return reply.code(302).header('location', to).header('cache-control', 'no-store').header('referrer-policy', 'no-referrer').send();
  });
};
