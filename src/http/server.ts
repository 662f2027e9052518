/** The Fastify server: envelope and errors, OpenAPI and Swagger UI, the token check, every route. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { Log } from '../log.ts';
import { TokenVerifier } from '../engine/tokens.ts';
import type { LaunchDeps } from '../engine/launch.ts';
import { requireToken } from './api.ts';
import { dedupHooks } from './dedup.ts';
import { installErrorHandling } from './envelope.ts';
import { installJsonParser } from './json-body.ts';
import { batchRoutes } from './routes/batch.ts';
import { campaignRoutes } from './routes/campaigns.ts';
import { launchRoutes } from './routes/launches.ts';
import { linkRoutes } from './routes/links.ts';
import { messageRoutes } from './routes/messages.ts';
import { installHttpMetrics, opsRoutes, type OpsDeps } from './routes/ops.ts';
import { profileRoutes } from './routes/profiles.ts';
import { setupRoutes } from './routes/setup.ts';
import { triggerRoutes } from './routes/triggers.ts';
import { uiRoutes } from './routes/ui.ts';
import { webhookRoutes } from './routes/webhooks.ts';

export interface HttpDeps extends LaunchDeps {
  config: Config;
  /** The process's logger (src/log.ts); requests log through children of it. */
  log: Log;
  ops: Omit<OpsDeps, 'store' | 'metricsToken'>;
}

export async function buildHttp(deps: HttpDeps): Promise<FastifyInstance> {
  const { config, store } = deps;
  const limits = config.http;
  const app = Fastify({
    loggerInstance: deps.log,
    // Slow clients: a request must arrive whole within its timeouts and an idle connection is closed,
    // so a peer sending a body a byte at a time holds a connection for seconds, not forever.
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionTimeout: limits.idleTimeoutMs,
    http: {
      requestTimeout: limits.requestTimeoutMs,
      headersTimeout: limits.headersTimeoutMs,
      // How often node looks for connections past those timeouts (30 s by default, longer than them).
      connectionsCheckingInterval: Math.min(5000, Math.max(100, limits.headersTimeoutMs / 4)),
    },
    bodyLimit: config.bodyLimit,
    // Real clients join base URLs and paths carelessly: `/api/v1.1//campaigns/triggers/start/` is the same method.
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    // Types are checked as sent: "5" is no integer, except where an id schema says otherwise.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false, allowUnionTypes: true } },
  });
  app.server.maxConnections = limits.maxConnections;
  installErrorHandling(app);
  installJsonParser(app);
  installHttpMetrics(app, deps.ops.metrics);

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Salvo API',
        version: '1.1',
        description:
          "Altcraft-compatible trigger API. Every method is POST with a JSON body and answers {error, error_text, data}; see docs/api.md.",
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  opsRoutes(app, { ...deps.ops, store, metricsToken: config.metricsToken });

  const verifier = new TokenVerifier(store);
  const dedup = dedupHooks(store, config.dedupHours, (req) => req.tokenName ?? `link:${(req.params as { key?: string }).key}`);
  await app.register(async (api) => {
    api.addHook('preValidation', requireToken(verifier));
    setupRoutes(api, store, deps.catalog);
    profileRoutes(api, store, config.batchBodyLimit);
    campaignRoutes(api, store, deps.catalog, config.publicUrl);
    triggerRoutes(api, deps, config, dedup);
    batchRoutes(api, deps, config, dedup);
    messageRoutes(api, store, deps.wake);
    launchRoutes(api, store);
    webhookRoutes(api, store, config, deps.wake);
  });
  linkRoutes(app, deps, verifier, dedup, config);
  await uiRoutes(app);
  return app;
}
