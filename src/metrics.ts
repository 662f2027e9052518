/**
 * The process's Prometheus metrics, served at GET /metrics. One Registry per app (tests run several
 * apps in one process, and prom-client's global registry would mix them). Counters and histograms
 * count what this process did; the queue gauges read the store at scrape time, so they describe the
 * whole store (every process sharing it).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { sendLimitDelays } from './core/send-limits.ts';
import type { QueueStats } from './store/queries/messages.ts';
import { PURGE_KINDS, type PurgeKind } from './store/queries/retention.ts';


/** Where a store failure was caught, for salvo_store_errors_total. */
const STORE_ERROR_SITES = ['delivery', 'record', 'leases', 'expander', 'tasks', 'metrics', 'webhooks', 'retention'] as const;
export type StoreErrorSite = (typeof STORE_ERROR_SITES)[number];

/** What the delivery code records; optional in its deps, so tests and tools may leave it out. */
export interface DeliveryMetrics {
  /** An attempt's outcome: sent, waiting (a retry is due), failed, skipped. */
  outcome(channel: string, status: string): void;
  /** How long a channel took to take (or refuse) a message. */
  sendSeconds(channel: string, seconds: number): void;
  storeError(site: StoreErrorSite): void;
  /** A message a sending limit held back (parked as waiting until its slot). */
  limitHold(resource: string, channel: string): void;
  /** How long a send waited in the worker for its slot under a sending limit. */
  limitWait(channel: string, seconds: number): void;
  /** A relay's 421 or 454 made a resource back off. */
  limitBackoff(resource: string, channel: string): void;
}

export class Metrics implements DeliveryMetrics {
  readonly registry = new Registry();
  private readonly messages: Counter<'channel' | 'status'>;
  private readonly sendDuration: Histogram<'channel'>;
  private readonly queueDepth: Gauge<'status'>;
  private readonly queueOldest: Gauge;
  private readonly launches: Counter<'kind'>;
  private readonly http: Histogram<'method' | 'route' | 'status_code'>;
  private readonly storeErrors: Counter<'site'>;
  private readonly purgedRows: Counter<'kind'>;
  private readonly storeSize: Gauge;
  private readonly limitHolds: Counter<'resource' | 'channel'>;
  private readonly limitWaits: Histogram<'channel'>;
  private readonly limitBackoffs: Counter<'resource' | 'channel'>;
  private readonly limitDelay: Gauge<'resource' | 'channel'>;

  /** `restarts` reads the mailer thread's restart count (0 without SMTP). */
  constructor(restarts: () => number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.messages = new Counter({ name: 'salvo_messages_total', help: 'Send attempts by channel and outcome (sent, waiting, failed, skipped)', labelNames: ['channel', 'status'], registers });
    this.sendDuration = new Histogram({
      name: 'salvo_send_duration_seconds',
      help: 'How long a channel took to take or refuse a message',
      labelNames: ['channel'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
      registers,
    });
    this.queueDepth = new Gauge({ name: 'salvo_queue_messages', help: 'Messages still to be delivered, by status (read from the store at scrape time)', labelNames: ['status'], registers });
    this.queueOldest = new Gauge({ name: 'salvo_queue_oldest_seconds', help: 'How long the longest-due queued message has been waiting for a worker (0 when none is queued)', registers });
    this.launches = new Counter({ name: 'salvo_launches_total', help: 'Launches accepted through the API, by the method that made them', labelNames: ['kind'], registers });
    this.http = new Histogram({
      name: 'salvo_http_request_duration_seconds',
      help: 'HTTP requests by method, route pattern and status code',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    new Counter({
      name: 'salvo_mailer_thread_restarts_total',
      help: 'Mailer threads replaced after a death (out of memory, killed, hung)',
      registers,
      collect() {
        this.reset();
        this.inc(restarts());
      },
    });
    this.storeErrors = new Counter({ name: 'salvo_store_errors_total', help: 'Store calls that failed in the background loops, by where they were caught', labelNames: ['site'], registers });
    // Known from the start, so that rate() sees the first error as a change from 0.
    for (const site of STORE_ERROR_SITES) this.storeErrors.inc({ site }, 0);
    this.purgedRows = new Counter({ name: 'salvo_purged_rows_total', help: 'Rows the retention purge removed (bodies: messages whose text it emptied), by kind', labelNames: ['kind'], registers });
    for (const kind of PURGE_KINDS) this.purgedRows.inc({ kind }, 0);
    this.limitHolds = new Counter({
      name: 'salvo_send_limit_holds_total',
      help: "Messages a resource's sending limit held back (parked as waiting until their slot, no attempt charged), by resource and channel",
      labelNames: ['resource', 'channel'],
      registers,
    });
    this.limitWaits = new Histogram({
      name: 'salvo_send_limit_wait_seconds',
      help: "How long sends of limited resources waited in the worker for their slot (up to 2 s; longer waits are holds)",
      labelNames: ['channel'],
      buckets: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
      registers,
    });
    this.limitBackoffs = new Counter({
      name: 'salvo_send_limit_backoffs_total',
      help: "A relay's 421 or 454 that made a resource back off in every worker, by resource and channel",
      labelNames: ['resource', 'channel'],
      registers,
    });
    this.limitDelay = new Gauge({
      name: 'salvo_send_limit_delay_seconds',
      help: "How long until a limited (or backing-off) resource's next free send slot, by resource and channel (read from the store at scrape time; absent when a slot is free now)",
      labelNames: ['resource', 'channel'],
      registers,
    });
    this.storeSize = new Gauge({
      name: 'salvo_store_bytes',
      help: "The store's size on disk (SQLite: database file and WAL; PostgreSQL: this schema's tables with indexes), read at scrape time",
      registers,
    });
  }

  outcome(channel: string, status: string): void {
    this.messages.inc({ channel, status });
  }
  sendSeconds(channel: string, seconds: number): void {
    this.sendDuration.observe({ channel }, seconds);
  }
  storeError(site: StoreErrorSite): void {
    this.storeErrors.inc({ site });
  }
  limitHold(resource: string, channel: string): void {
    this.limitHolds.inc({ resource, channel });
  }
  limitWait(channel: string, seconds: number): void {
    this.limitWaits.observe({ channel }, seconds);
  }
  limitBackoff(resource: string, channel: string): void {
    this.limitBackoffs.inc({ resource, channel });
  }
  /** The pacing table as read at scrape time (every process's reservations and back-offs). */
  sendLimits(paced: Map<string, number>, now: number): void {
    this.limitDelay.reset();
    for (const d of sendLimitDelays(paced, now)) this.limitDelay.set({ resource: String(d.resource_id), channel: d.channel }, d.next_slot_seconds);
  }
  launch(kind: string): void {
    this.launches.inc({ kind });
  }
  request(method: string, route: string, statusCode: number, seconds: number): void {
    this.http.observe({ method, route, status_code: String(statusCode) }, seconds);
  }
  purged(kind: PurgeKind, rows: number): void {
    this.purgedRows.inc({ kind }, rows);
  }
  storeBytes(bytes: number): void {
    this.storeSize.set(bytes);
  }
  queue(stats: QueueStats, now: number): void {
    for (const [status, n] of Object.entries(stats.depth)) this.queueDepth.set({ status }, n);
    this.queueOldest.set(stats.oldestDueAt === null ? 0 : Math.max(0, now - stats.oldestDueAt) / 1000);
  }

  /** The Prometheus text exposition. */
  text(): Promise<string> {
    return this.registry.metrics();
  }
  get contentType(): string {
    return this.registry.contentType;
  }
}
