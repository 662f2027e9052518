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
import { encodeSms } from './delivery/sms/gsm.ts';
import { SnsCertificates } from './delivery/sns-certificates.ts';
import { postWebhook } from './delivery/webhook-post.ts';
import { WebhookSender } from './delivery/webhooks.ts';
import { Catalog } from './engine/catalog.ts';
import { RequestDedup } from './engine/dedup.ts';
import { Expander } from './engine/expander.ts';
import { feedbackRecorder } from './engine/feedback.ts';
import { Purger } from './engine/retention.ts';
import { TaskRunner } from './engine/tasks.ts';
import { ensureEnvToken } from './engine/tokens.ts';
import { WORK, type Wake, type Work } from './engine/loops.ts';
import { buildHttp } from './http/server.ts';
import { createLog, type Log } from './log.ts';
import { Metrics } from './metrics.ts';
import type { PgDriver } from './store/postgres/driver.ts';
import { PgWakeups } from './store/postgres/wakeups.ts';
import { driverOf, openStore, type Store } from './store/store.ts';
import type { BackgroundLoop } from './support/background-loop.ts';
import { Pressure } from './support/pressure.ts';

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
  /** Request deduplication's claims and kept answers (engine/dedup.ts). */
  dedup: RequestDedup;
  /** Launch requests in flight (counted by the HTTP side): delivery yields to them while they are many. */
  accepting: Pressure;
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

/**
 * Launch requests in flight that make delivery yield (claim at most every 100 ms, delivery/dispatcher.ts),
 * and how long after the count was last that high it keeps yielding. An open loop of 100 triggers a
 * second has one or two in flight and never reaches it; 50 connections at full speed hold it there.
 */
const ACCEPT_PRESSURE = { threshold: 8, holdMs: 20 };

/** A part to close, named for the log when its close fails. */
type Closer = [what: string, close: () => Promise<unknown>];

/**
 * Closes every part given, together, whatever the others do (allSettled: one that fails skips none
 * after it); answers the failures, each named by its part.
 */
async function closeEach(parts: Closer[]): Promise<Error[]> {
  const results = await Promise.allSettled(parts.map(([, close]) => close()));
  return results.flatMap((r, i) => (r.status === 'rejected' ? [new Error(`closing ${parts[i][0]} failed: ${(r.reason as Error)?.message ?? r.reason}`, { cause: r.reason })] : []));
}

/** `clock`: the time delivery works by (Date.now unless given), for tests that need time to pass. */
export async function createApp(config: Config, o: { searchPath?: string; clock?: () => number } = {}): Promise<App> {
  const log = createLog(config.logLevel);
  // What is open so far, closed (the last opened first) when a later step throws: a start that fails
  // leaves no store connection, thread or LISTEN behind in the process that tried it.
  const opened: Closer[] = [];
  try {
    return await assemble(config, o, log, opened);
  } catch (e) {
    for (const part of opened.reverse()) for (const err of await closeEach([part])) log.warn({ err }, err.message);
    throw e;
  }
}

async function assemble(config: Config, o: { searchPath?: string; clock?: () => number }, log: Log, opened: Closer[]): Promise<App> {
  const checkpointInThread = { onError: (err: Error) => log.warn({ err }, err.message) };
  const { store, where } = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, searchPath: o.searchPath, retryMs: config.storeRetryMs, pgPool: config.pgPool, checkpointInThread });
  opened.push(['the store', () => store.close()]);
  if (config.token) await ensureEnvToken(store, config.token);
  const catalog = new Catalog(store);
  // Email's public links are signed with the store's key: every process of a cluster signs and reads alike.
  const links = { key: await store.linkKey(), publicUrl: config.publicUrl, bounceDomain: config.feedback.bounceDomain };
  const channels = channelsFor(config, store, log);
  const channelClosers: Closer[] = [...new Set([channels.email, channels.sms, channels.push])].map((c) => [`the ${c === channels.email ? 'email' : c === channels.sms ? 'SMS' : 'push'} channel`, () => c.close()]);
  opened.push(['the channels', async () => {
    const failures = await closeEach(channelClosers);
    if (failures.length) throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
  }]);
  const metrics = new Metrics(() => channels.smtp?.restarts ?? 0);
  const readiness = new Readiness({ store, smtpUrl: config.smtpUrl, smtp: () => channels.smtp });

  // The loops wake one another (a task's chunk wakes delivery), so `wake` is bound late: it looks the
  // loop up when called, which is never before all three exist (they run only after startWorkers).
  // On PostgreSQL the other processes are told too (LISTEN/NOTIFY), so an idle worker elsewhere starts at once.
  const wakeups = store.dialect === 'postgres' ? await PgWakeups.open(driverOf(store) as PgDriver, WORK, (err, what) => log.warn({ err }, `${what} failed`)) : null;
  if (wakeups) opened.push(['the wake-ups (LISTEN)', () => wakeups.close()]);
  const wake: Wake = (what) => {
    loops[what].wake();
    wakeups?.notify(what);
  };
  const loopOptions = { pollMs: config.pollMs, leaseMs: config.leaseMs, log, metrics };
  // Launch requests in flight, counted by the HTTP side: while many are, delivery claims less (accept first, deliver after).
  const accepting = new Pressure(ACCEPT_PRESSURE);
  const dispatcher = new Dispatcher({ store, catalog, channels, config, log, metrics, clock: o.clock, links, accepting });
  const expander = new Expander({ store, catalog, wake, deliveryActive: () => dispatcher.active() }, loopOptions);
  const tasks = new TaskRunner({ store, catalog, wake }, loopOptions);
  const webhooks = new WebhookSender({ store, config, log, metrics, clock: o.clock });
  const purger = new Purger({ store, retention: config.retention, log, metrics, clock: o.clock });
  const loops: Record<Work, BackgroundLoop> = { messages: dispatcher, launches: expander, tasks, webhooks };
  const dedup = new RequestDedup(store, config.dedupHours, { log, wake });
  opened.push(['request deduplication', () => dedup.stop()]);
  dedup.start();

  const recordFeedback = feedbackRecorder({ store, softBounces: config.feedback.softBounces, clock: o.clock });
  const { bounceDomain, bounceSmtpHost, bounceSmtpPort, bounceMaxBytes } = config.feedback;
  const bounces = bounceDomain
    ? new BounceListener({ host: bounceSmtpHost, port: bounceSmtpPort, domain: bounceDomain, key: links.key, maxBytes: bounceMaxBytes, record: recordFeedback, log })
    : null;

  const feedback = { record: recordFeedback, certificates: new SnsCertificates(config.feedback.sesSigningCert) };
  // What the API needs of delivery, handed down from here (http/ does not import delivery/): webhooks/test's
  // signed post, and an SMS text's alphabet and parts for the dry run's preview.
  const testWebhookPost = (url: string, secret: string, id: string, timestamp: number, body: string) =>
    postWebhook(url, secret, id, timestamp, body, { timeoutMs: config.webhooks.timeoutMs, denyPrivate: config.egress.denyPrivate });
  const smsShape = (text: string) => {
    const encoded = encodeSms(text, 0);
    return { encoding: encoded.alphabet, parts: encoded.parts.length };
  };
  const http = await buildHttp({ config, log, store, catalog, wake, links, clock: o.clock, dedup, accepting, ops: { metrics, readiness }, feedback, testWebhookPost, smsShape });
  opened.push(['HTTP', () => http.close()]);
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
    dedup,
    accepting,
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
      return bounces.listen();
    },
    channels,
    metrics,
    async close(deadlineMs = Infinity) {
      // HTTP and delivery stop together: requests still running (a repeat waiting on a claim, a slow
      // upload) must not hold up the hand-back of sends, and past the deadline their connections go.
      // Every step runs whatever the ones before it did (allSettled), so a part that fails to stop
      // never leaves the channels or the store open; the failures are logged, then thrown together.
      const cut = Number.isFinite(deadlineMs) ? setTimeout(() => http.server.closeAllConnections(), deadlineMs) : undefined;
      const failures = await closeEach([
        ['HTTP', () => http.close()],
        ['the bounce listener', async () => bounces?.close()],
        ['the expander', () => expander.stop()],
        ['the task runner', () => tasks.stop()],
        ['the dispatcher', () => dispatcher.stop(deadlineMs)],
        ['the webhook sender', () => webhooks.stop()],
        ['the retention purge', () => purger.stop()],
      ]);
      clearTimeout(cut);
      failures.push(...(await closeEach([['request deduplication', () => dedup.stop()]])));
      failures.push(...(await closeEach(channelClosers)));
      if (wakeups) failures.push(...(await closeEach([['the wake-ups (LISTEN)', () => wakeups.close()]])));
      failures.push(...(await closeEach([['the store', () => store.close()]])));
      for (const err of failures) log.error({ err }, err.message);
      if (failures.length) throw new AggregateError(failures, failures.map((f) => f.message).join('; '));
    },
  };
}
