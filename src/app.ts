/**
 * The composition root, in the order each part needs the ones before it: the logger, the store, the
 * catalog (cached reads), the delivery channels, the background loops (dispatcher, expander, task
 * runner, webhook sender, retention purge) and the HTTP server, wired for `salvo serve` or `salvo worker`.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { channelsFor, type Channels } from './delivery/channels.ts';
import { BounceListener } from './delivery/bounce-listener.ts';
import { Dispatcher } from './delivery/dispatcher.ts';
import { Readiness } from './delivery/readiness.ts';
import { SnsCertificates } from './delivery/sns-certificates.ts';
import { WebhookSender } from './delivery/webhooks.ts';
import { Catalog } from './engine/catalog.ts';
import { Expander } from './engine/expander.ts';
import { feedbackRecorder } from './engine/feedback.ts';
import { Purger } from './engine/retention.ts';
import { TaskRunner } from './engine/tasks.ts';
import { ensureEnvToken } from './engine/tokens.ts';
import type { Wake, Work } from './engine/loops.ts';
import { buildHttp } from './http/server.ts';
import { createLog, type Log } from './log.ts';
import { Metrics } from './metrics.ts';
import type { PgDriver } from './store/postgres/driver.ts';
import { PgWakeups } from './store/postgres/wakeups.ts';
import { driverOf, openStore, type Store } from './store/store.ts';
import type { BackgroundLoop } from './support/background-loop.ts';

export interface App {
  config: Config;
  log: Log;
  store: Store;
  http: FastifyInstance;
  dispatcher: Dispatcher;
  expander: Expander;
  tasks: TaskRunner;
  webhooks: WebhookSender;
  purger: Purger;
  /** Where the data lives, for the start-up line. */
  where: string;
  channels: Channels;
  /** This app's Prometheus registry and the metrics in it (GET /metrics). */
  metrics: Metrics;
  /** Starts the workers (when SALVO_WORKERS > 0). */
  startWorkers(): void;
  /** Starts the bounce listener where SALVO_BOUNCE_DOMAIN is set (salvo serve): answers its port, or null. A taken port throws a clear error. */
  startBounceListener(): Promise<number | null>;
  /** Stops taking work, lets sends in flight finish for up to `deadlineMs` (then hands them back), closes the store. */
  close(deadlineMs?: number): Promise<void>;
}

/** `clock`: the time delivery works by (Date.now unless given), for tests that need time to pass. */
export async function createApp(config: Config, o: { searchPath?: string; clock?: () => number } = {}): Promise<App> {
  const log = createLog(config.logLevel);
  const checkpointInThread = { onError: (err: Error) => log.warn({ err }, err.message) };
  const { store, where } = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, searchPath: o.searchPath, retryMs: config.storeRetryMs, pgPool: config.pgPool, checkpointInThread });
  if (config.token) await ensureEnvToken(store, config.token);
  const catalog = new Catalog(store);
  // Email's public links are signed with the store's key: every process of a cluster signs and reads alike.
  const links = { key: await store.linkKey(), publicUrl: config.publicUrl, bounceDomain: config.feedback.bounceDomain };
  const channels = channelsFor(config, store, log);
  const metrics = new Metrics(() => channels.smtp?.restarts ?? 0);
  const readiness = new Readiness({ store, smtpUrl: config.smtpUrl, smtp: () => channels.smtp });

  // The loops wake one another (a task's chunk wakes delivery), so `wake` is bound late: it looks the
  // loop up when called, which is never before all three exist (they run only after startWorkers).
  // On PostgreSQL the other processes are told too (LISTEN/NOTIFY), so an idle worker elsewhere starts at once.
  const wakeups = store.dialect === 'postgres' ? await PgWakeups.open(driverOf(store) as PgDriver, (err, what) => log.warn({ err }, `${what} failed`)) : null;
  const wake: Wake = (what) => {
    loops[what].wake();
    wakeups?.notify(what);
  };
  const loopOptions = { pollMs: config.pollMs, leaseMs: config.leaseMs, log, metrics };
  const dispatcher = new Dispatcher({ store, catalog, channels, config, log, metrics, clock: o.clock, links });
  const expander = new Expander({ store, catalog, wake, deliveryActive: () => dispatcher.active() }, loopOptions);
  const tasks = new TaskRunner({ store, catalog, wake }, loopOptions);
  const webhooks = new WebhookSender({ store, config, log, metrics, clock: o.clock });
  const purger = new Purger({ store, retention: config.retention, log, metrics, clock: o.clock });
  const loops: Record<Work, BackgroundLoop> = { messages: dispatcher, launches: expander, tasks, webhooks };

  const recordFeedback = feedbackRecorder({ store, softBounces: config.feedback.softBounces, clock: o.clock });
  const { bounceDomain, bounceSmtpHost, bounceSmtpPort, bounceMaxBytes } = config.feedback;
  const bounces = bounceDomain
    ? new BounceListener({ host: bounceSmtpHost, port: bounceSmtpPort, domain: bounceDomain, key: links.key, maxBytes: bounceMaxBytes, record: recordFeedback, log })
    : null;
  let bouncesListening = false;

  const feedback = { record: recordFeedback, certificates: new SnsCertificates(config.feedback.sesSigningCert) };
  const http = await buildHttp({ config, log, store, catalog, wake, links, clock: o.clock, ops: { metrics, readiness }, feedback });
  return {
    config,
    log,
    store,
    http,
    dispatcher,
    expander,
    tasks,
    webhooks,
    purger,
    where,
    startWorkers() {
      // The purge runs in every serve and worker process, with delivery or without.
      purger.start();
      if (config.workers === 0) return;
      dispatcher.start();
      expander.start();
      tasks.start();
      webhooks.start();
      void wakeups?.listen((what) => loops[what].wake());
    },
    async startBounceListener() {
      if (!bounces) return null;
      const port = await bounces.listen();
      bouncesListening = true;
      return port;
    },
    channels,
    metrics,
    async close(deadlineMs = Infinity) {
      // HTTP and delivery stop together: requests still running (a repeat waiting on a claim, a slow
      // upload) must not hold up the hand-back of sends, and past the deadline their connections go.
      const cut = Number.isFinite(deadlineMs) ? setTimeout(() => http.server.closeAllConnections(), deadlineMs) : undefined;
      await Promise.all([http.close(), bouncesListening ? bounces?.close() : undefined, expander.stop(), tasks.stop(), dispatcher.stop(deadlineMs), webhooks.stop(), purger.stop()]);
      clearTimeout(cut);
      await Promise.all([...new Set([channels.email, channels.sms, channels.push])].map((c) => c.close()));
      await wakeups?.close();
      await store.close();
    },
  };
}
