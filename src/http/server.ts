/** The Fastify server: envelope and errors, OpenAPI and Swagger UI, the token check, every route. */
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Config } from '../config.ts';
import type { Log } from '../log.ts';
import { TokenVerifier } from '../engine/tokens.ts';
import type { LinkSigning } from '../engine/compose.ts';
import type { RequestDedup } from '../engine/dedup.ts';
import type { LaunchDeps } from '../engine/launch.ts';
import type { SignedPost } from '../engine/webhooks.ts';
import type { RecordFeedback } from '../engine/feedback.ts';
import type { Pressure } from '../support/pressure.ts';
import { ERROR_ENVELOPE, requireToken } from './api.ts';
import { dedupHooks } from './dedup.ts';
import { installErrorHandling } from './envelope.ts';
import { installJsonParser, useJsonBodies } from './json-body.ts';
import { batchRoutes } from './routes/batch.ts';
import { campaignRoutes } from './routes/campaigns.ts';
import { databaseRoutes } from './routes/databases.ts';
import { emailEventRoutes, type SigningCertificates } from './routes/email-events.ts';
import { launchRoutes } from './routes/launches.ts';
import { linkRoutes } from './routes/links.ts';
import { messageRoutes } from './routes/messages.ts';
import { installHttpMetrics, opsRoutes, type OpsDeps } from './routes/ops.ts';
import { profileRoutes } from './routes/profiles.ts';
import { publicLinkRoutes } from './routes/public-links.ts';
import { pushSubscribeRoutes } from './routes/push-subscribe.ts';
import { quickImportRoutes } from './routes/quick-import.ts';
import { resourceRoutes } from './routes/resources.ts';
import { subscriptionRoutes } from './routes/subscriptions.ts';
import { templatePreviewRoutes } from './routes/template-preview.ts';
import { templateRoutes } from './routes/templates.ts';
import { tokenRoutes } from './routes/tokens.ts';
import { triggerRoutes } from './routes/triggers.ts';
import { uiRoutes } from './routes/ui.ts';
import { webhookRoutes } from './routes/webhooks.ts';
import { tokenBeforeBody } from './token-before-body.ts';

/** Every API v1.1 method is POST under this prefix, given to each family's plugin. */
const API_V11 = '/api/v1.1';
/** The methods that launch (start, its batch and import forms): the requests delivery yields to. */
const LAUNCHES = `${API_V11}/campaigns/triggers/`;

export interface HttpDeps extends LaunchDeps {
  config: Config;
  links: LinkSigning;
  /** The time public links record engagements at (Date.now unless given). */
  clock?: () => number;
  /** The process's logger (src/log.ts); requests log through children of it. */
  log: Log;
  ops: Omit<OpsDeps, 'store' | 'metricsToken'>;
  /** Request deduplication's claims and answers (engine/dedup.ts), started and stopped by the app. */
  dedup: RequestDedup;
  /** webhooks/test's signed post (delivery's poster). */
  testWebhookPost: SignedPost;
  /** Email services' event webhooks record bounces, complaints and deliveries with it. */
  feedback: { record: RecordFeedback; certificates: SigningCertificates };
  /** Counts the launch requests in flight, from their arrival until their answer is out or their connection gone. */
  accepting?: Pick<Pressure, 'enter' | 'leave'>;
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

  app.addSchema(ERROR_ENVELOPE);
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      servers: [{ url: config.publicUrl, description: 'This server (SALVO_PUBLIC_URL)' }],
      info: {
        title: 'Salvo API',
        version: '1.1',
        description:
          "Altcraft-compatible trigger API. Every method is POST with a JSON body and answers {error, error_text, data}; see docs/api.md.",
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
    // Shared schemas keep their $id as their name under components (ErrorEnvelope, not def-0).
    refResolver: { buildLocalReference: (json, _base, _fragment, i) => (typeof json.$id === 'string' ? json.$id : `def-${i}`) },
  });
  // The API explorer's pages cannot be framed by another site (clickjacking its Authorize form).
  await app.register(async (docs) => {
    docs.addHook('onSend', async (_req, reply) => {
      reply.header('x-frame-options', 'DENY');
      const csp = reply.getHeader('content-security-policy');
      reply.header('content-security-policy', csp ? `${csp}; frame-ancestors 'none'` : "frame-ancestors 'none'");
    });
    await docs.register(swaggerUi, { routePrefix: '/docs' });
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  await app.register(opsRoutes, { ...deps.ops, store, metricsToken: config.metricsToken });

  const verifier = new TokenVerifier(store);
  const dedup = dedupHooks(deps.dedup, (req) => req.tokenName ?? `link:${(req.params as { key?: string }).key}`);
  const launching = { deps, limits: config, hooks: dedup };
  // One plugin per API family, each under the prefix; the token check covers them all (this scope).
  await app.register(async (api) => {
    const accepting = deps.accepting;
    if (accepting) {
      api.addHook('onRequest', (req, reply, done) => {
        if (req.routeOptions.url?.startsWith(LAUNCHES)) {
          accepting.enter();
          // 'close' comes once either way: the answer sent, or the connection lost before it.
          reply.raw.once('close', accepting.leave);
        }
        done();
      });
    }
    // The token outside the body is checked before the body is read; one inside a large body before it is parsed.
    const early = tokenBeforeBody(verifier);
    api.addHook('onRequest', early.onRequest);
    useJsonBodies(api, { tokenFirst: early.tokenFirst });
    api.addHook('preValidation', requireToken(verifier));
    await api.register(databaseRoutes, { prefix: API_V11, store, catalog: deps.catalog });
    await api.register(resourceRoutes, { prefix: API_V11, store, catalog: deps.catalog, egress: config.egress });
    await api.register(templateRoutes, { prefix: API_V11, store, catalog: deps.catalog });
    await api.register(profileRoutes, { prefix: API_V11, store, batchBodyLimit: config.batchBodyLimit });
    await api.register(subscriptionRoutes, { prefix: API_V11, store });
    await api.register(campaignRoutes, { prefix: API_V11, store, catalog: deps.catalog, publicUrl: config.publicUrl });
    await api.register(triggerRoutes, { prefix: API_V11, ...launching });
    await api.register(templatePreviewRoutes, { prefix: API_V11, deps, limits: config });
    await api.register(batchRoutes, { prefix: API_V11, ...launching });
    await api.register(messageRoutes, { prefix: API_V11, store, wake: deps.wake });
    await api.register(launchRoutes, { prefix: API_V11, store });
    await api.register(webhookRoutes, { prefix: API_V11, store, config, wake: deps.wake, testPost: deps.testWebhookPost });
    await api.register(tokenRoutes, { prefix: API_V11, store, verifier });
  });
  await app.register(publicLinkRoutes, { store, key: deps.links.key, clock: deps.clock, ratePerMinute: config.publicRateLimit });
  // Outside the API scope: each email service's signature is the credential.
  await app.register(emailEventRoutes, { settings: config.feedback, record: deps.feedback.record, certificates: deps.feedback.certificates, log: deps.log });
  await app.register(linkRoutes, { deps, verifier, hooks: dedup.claimFirst, limits: config });
  // Outside the API scope: its own token check (403 for none) and plain-text answers, as Altcraft's.
  await app.register(quickImportRoutes, { deps, verifier, dedup: dedup.claimFirst, limits: config });
  // Outside the API scope too: its credential is the resource's public token, and pages of any origin call it.
  await app.register(pushSubscribeRoutes, { store });
  await uiRoutes(app);
  return app;
}
