/**
 * Operations endpoints, outside the API's envelope and without an API token: GET /health (the process
 * answers), GET /ready (it can work: store, mailer thread, SMTP) and GET /metrics (Prometheus text;
 * behind SALVO_METRICS_TOKEN when that is set). And the hooks that feed the HTTP metrics.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { within, type Readiness } from '../../delivery/readiness.ts';
import type { Metrics } from '../../metrics.ts';
import type { Store } from '../../store/store.ts';
import { sendError } from '../envelope.ts';

export interface OpsDeps {
  metrics: Metrics;
  readiness: Readiness;
  store: Pick<Store, 'queueStats' | 'storeBytes' | 'pacedKeys'>;
  /** When set, /metrics needs `Authorization: Bearer <it>`. */
  metricsToken: string | null;
}

/** The launch kind of a route that launches: the trigger method's name, or `link` for API v1.0 links. */
function launchKind(route: string): string | null {
  if (route.startsWith('/trg/')) return 'link';
  const m = /^\/api\/v1\.1\/campaigns\/triggers\/(\w+)$/.exec(route);
  return m ? m[1] : null;
}

/**
 * Request durations by route pattern (never the raw URL, so label values stay few), and launches by
 * kind: a response carrying a Launch-Id (or a task's acceptance) that is not a deduplicated repeat.
 */
export function installHttpMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.request(req.method, route, reply.statusCode, reply.elapsedTime / 1000);
    if (reply.getHeader('duplicate-request') !== undefined) return;
    const kind = launchKind(route);
    if (!kind) return;
    if (reply.getHeader('launch-id') !== undefined || (kind.endsWith('_task') && reply.statusCode === 200)) metrics.launch(kind);
  });
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();

/** Bearer check for /metrics: 401 without a token, 403 with a wrong one; constant-time compare. */
function metricsAuth(token: string) {
  const expected = sha256(token);
  return async (req: FastifyRequest, reply: FastifyReply) => {
    const auth = req.headers.authorization;
    const given = auth && /^Bearer\s+\S+$/i.test(auth) ? auth.replace(/^Bearer\s+/i, '') : null;
    if (given === null) return sendError(reply, 401, 'metrics token required (Authorization: Bearer <SALVO_METRICS_TOKEN>)');
    if (!timingSafeEqual(sha256(given), expected)) return sendError(reply, 403, 'metrics token is not valid');
  };
}

/** Queue and store-size gauges are read at scrape time; a store that does not answer leaves them as they were. */
const QUEUE_READ_MS = 2000;

export const opsRoutes: FastifyPluginAsync<OpsDeps> = async (app, d) => {
  const open = { tags: ['operations'], security: [] };
  app.get('/health', {
    schema: {
      ...open,
      operationId: 'health',
      summary: 'Liveness: answers 200 while the process runs (no store call)',
      response: { 200: { type: 'object', description: 'Alive', properties: { ok: { type: 'boolean' } } } },
    },
    handler: async () => ({ ok: true }),
  });

  const readiness = {
    type: 'object',
    properties: {
      ready: { type: 'boolean' },
      checks: {
        type: 'object',
        description: '"ok" or what is wrong, per part: store (a write), mailer_thread and smtp (with SALVO_SMTP_URL)',
        additionalProperties: { type: 'string' },
      },
    },
  };
  app.get('/ready', {
    schema: {
      ...open,
      operationId: 'ready',
      summary: 'Readiness: 200 when the store takes a write, the mailer thread runs and SMTP is reachable; 503 naming what fails',
      response: { 200: { ...readiness, description: 'Ready' }, 503: { ...readiness, description: 'Not ready: the checks name what fails' } },
    },
    handler: async (_req, reply) => {
      const answer = await d.readiness.check();
      if (!answer.ready) reply.code(503);
      return answer;
    },
  });

  app.get('/metrics', {
    onRequest: d.metricsToken ? metricsAuth(d.metricsToken) : undefined,
    schema: {
      tags: ['operations'],
      operationId: 'metrics',
      summary: 'Prometheus metrics (text format)',
      description: 'Open, or behind Authorization: Bearer <SALVO_METRICS_TOKEN> when that setting is set. See docs/operations.md for the metrics.',
      ...(d.metricsToken ? {} : { security: [] }),
      response: {
        200: { description: 'The metrics, in the Prometheus text format', content: { 'text/plain': { schema: { type: 'string' } } } },
        ...(d.metricsToken
          ? {
              401: { $ref: 'ErrorEnvelope#', description: 'No metrics token' },
              403: { $ref: 'ErrorEnvelope#', description: 'The metrics token is not valid' },
            }
          : {}),
      },
    },
    handler: async (req, reply) => {
      try {
        d.metrics.queue(await within(QUEUE_READ_MS, 'the queue read', () => d.store.queueStats()), Date.now());
        d.metrics.storeBytes(await within(QUEUE_READ_MS, 'the store size read', () => d.store.storeBytes()));
        const now = Date.now();
        d.metrics.sendLimits(await within(QUEUE_READ_MS, 'the sending limits read', () => d.store.pacedKeys(now)), now);
      } catch (err) {
        d.metrics.storeError('metrics');
        req.log.warn({ err }, 'reading the queue or the store size for /metrics failed; their gauges keep their last values');
      }
      return reply.type(d.metrics.contentType).send(await d.metrics.text());
    },
  });
};
