/**
 * The one typed configuration, read from the environment (and `salvo` flags, which override it: src/cli.ts).
 * docs/configuration.md lists every setting; a bad value stops start-up with one line naming it.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { isPublicHost } from './core/egress.ts';
import { checkSender, checkSmpp, checkWebPush, type ProviderDefaults } from './core/resource-settings.ts';
import { RENDER_LIMITS, type RenderLimits } from './core/template/render.ts';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** postgres://... selects PostgreSQL; null means SQLite in dataDir. */
  databaseUrl: string | null;
  /** A token ensured at start-up, for containers and scripts. */
  token: string | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Largest request body in bytes for ordinary API calls. */
  bodyLimit: number;
  /** Largest request body in bytes for batch and task calls (profiles/import_batch, start_batch, ...). */
  batchBodyLimit: number;
  /** Largest total size of a launch's attachments, decoded. */
  attachLimit: number;
  /** Largest `content` plus `custom_data` of one launch (per item in batches), as JSON bytes. */
  contentLimit: number;
  /** smtp:// or smtps:// URL; null captures email in the outbox. */
  smtpUrl: string | null;
  /** SMTP connections kept open. */
  smtpPool: number;
  /** TLS for SMTP (STARTTLS or smtps://): a private CA to trust, and whether an unverified certificate is refused. */
  smtpTls: SmtpTls;
  /** Messages sent at once by this process's workers; 0 runs no workers. */
  workers: number;
  /** Attempts before a transient failure becomes final. */
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
  /** How long a worker holds a claimed message before others may take it. */
  leaseMs: number;
  /** How often workers look for due messages when nothing wakes them. */
  pollMs: number;
  /** Rendered body kept per message for messages/get, in characters; 0 keeps none. */
  keepBody: number;
  /** How long a trigger request's answer is kept to answer its repeats; 0 turns deduplication off. */
  dedupHours: number;
  /** How long a dry run may read a custom_request audience before answering what it counted (complete: false); 0 reads one page. */
  dryRunMs: number;
  /** Where v1.0 trigger links point (call_url), and email's unsubscribe and tracking links where a resource has no tracking domain. */
  publicUrl: string;
  /** Requests a minute one client address may make to the public links (unsubscribe, open pixel, click redirects). */
  publicRateLimit: number;
  /** The mailer thread's heap in MB: a message that needs more kills the thread (replaced), never the process. */
  mailerHeapMb: number;
  /** A send the mailer thread has not answered after this long means the thread hangs; it is replaced. */
  sendTimeoutMs: number;
  /** On SIGTERM, how long in-flight sends may finish before they are handed back and the process exits. */
  shutdownMs: number;
  /** Whether a permanent SMTP refusal of the address marks its subscription hardbounced. */
  hardBounce: boolean;
  /** How long a store call waits for a database locked by another process (or unreachable) before it fails: 503 to an API caller. */
  storeRetryMs: number;
  /** PostgreSQL: connections each process's pool may open (the LISTEN connection for wake-ups is one more). */
  pgPool: number;
  /** Bounds on one message's render: characters of output per field, and steps (loop turns, jsonpath nodes). */
  renderLimits: RenderLimits;
  /** Slow or idle clients: how long each part of a connection may take, in ms, and how many at once. */
  http: HttpLimits;
  /** How long an SMPP submit_sm, bind or enquire_link waits for its answer before it counts as lost. */
  smppTimeoutMs: number;
  /** Provider settings every resource gets unless it has its own (SALVO_SMPP_URL, SALVO_SMS_SENDER, SALVO_VAPID_*). */
  providerDefaults: ProviderDefaults;
  /** When set, GET /metrics needs `Authorization: Bearer <it>`; otherwise it is open like /health. */
  metricsToken: string | null;
  webhooks: WebhookSettings;
  /** SALVO_EGRESS_DENY_PRIVATE: the egress policy for every peer a setting or an input names. */
  egress: EgressPolicy;
  /** How long each kind of row is kept before the retention purge removes it (engine/retention.ts), in ms. */
  retention: Retention;
  /** What Salvo learns after the send: bounces, complaints, deliveries (docs/operations.md, Bounces and complaints). */
  feedback: FeedbackSettings;
}

export interface Retention {
  /** A message's rendered subject and body (SALVO_RETAIN_BODIES). */
  bodiesMs: number;
  /** Messages themselves, with their SMS parts; never one still queued, waiting or sending (SALVO_RETAIN_MESSAGES). */
  messagesMs: number;
  /** Outbox captures (SALVO_RETAIN_OUTBOX). */
  outboxMs: number;
  /** Delivered and failed webhook deliveries (SALVO_RETAIN_WEBHOOK_DELIVERIES). */
  webhookDeliveriesMs: number;
  /** Launches with no message left, their attachments and tasks, and campaign-log lines (SALVO_RETAIN_LAUNCHES). */
  launchesMs: number;
}

interface WebhookSettings {
  /** An endpoint's answer must come within this long to count (2xx) as delivered. */
  timeoutMs: number;
  /** Deliveries posted at once by this process. */
  concurrency: number;
  /** An endpoint failing every attempt for this long is disabled. */
  disableAfterMs: number;
}

/** SALVO_EGRESS_DENY_PRIVATE (core/egress.ts, delivery/egress.ts). */
export interface EgressPolicy {
  /** Refuse connections, made because of settings or input, to loopback, private, link-local and other non-public addresses. */
  denyPrivate: boolean;
  /** Which setting decided, for the start-up banner. */
  why: string;
  /** SALVO_WEBHOOK_DENY_PRIVATE was given (a deprecated alias): warned of at start. */
  deprecatedAlias: boolean;
}

/**
 * The egress policy: SALVO_EGRESS_DENY_PRIVATE when set; else SALVO_WEBHOOK_DENY_PRIVATE (its former,
 * webhooks-only name, still honoured, now for every peer); else on when SALVO_PUBLIC_URL names a public
 * host (a server the internet reaches must not be turned against the network it sits in), off when it
 * is unset or local (development, where providers often run on localhost).
 */
function egressPolicy(env: Env, publicUrl: string): EgressPolicy {
  if (env.SALVO_EGRESS_DENY_PRIVATE?.trim()) {
    const on = flag(env, 'SALVO_EGRESS_DENY_PRIVATE', false);
    return { denyPrivate: on, why: `${on ? 'on' : 'off'} (SALVO_EGRESS_DENY_PRIVATE)`, deprecatedAlias: false };
  }
  if (env.SALVO_WEBHOOK_DENY_PRIVATE?.trim()) {
    const on = flag(env, 'SALVO_WEBHOOK_DENY_PRIVATE', false);
    return { denyPrivate: on, why: `${on ? 'on' : 'off'} (SALVO_WEBHOOK_DENY_PRIVATE, deprecated: use SALVO_EGRESS_DENY_PRIVATE)`, deprecatedAlias: true };
  }
  const given = Boolean(env.SALVO_PUBLIC_URL?.trim());
  const on = given && isPublicHost(new URL(publicUrl).hostname);
  return { denyPrivate: on, why: `${on ? 'on' : 'off'} (SALVO_EGRESS_DENY_PRIVATE unset; SALVO_PUBLIC_URL ${given ? (on ? 'is public' : 'is local') : 'unset'})`, deprecatedAlias: false };
}

export interface SmtpTls {
  /** PEM text of the CA certificate(s) that may sign the SMTP server's certificate (SALVO_SMTP_TLS_CA); null trusts Node's bundled CAs. */
  ca: string | null;
  rejectUnauthorized: boolean;
}

interface HttpLimits {
  /** From connection to the end of the request's body. */
  requestTimeoutMs: number;
  /** From connection to the end of the request's headers. */
  headersTimeoutMs: number;
  /** How long a kept-alive connection waits for its next request. */
  keepAliveTimeoutMs: number;
  /** A connection with no bytes either way for this long is closed (0: never). */
  idleTimeoutMs: number;
  /** Connections beyond this many are closed as they arrive. */
  maxConnections: number;
}

export class ConfigError extends Error {
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`${setting} ${message}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

export interface FeedbackSettings {
  /** SALVO_BOUNCE_DOMAIN: each email's Return-Path is a signed address on it, and the bounce listener runs. Null: neither. */
  bounceDomain: string | null;
  bounceSmtpHost: string;
  bounceSmtpPort: number;
  /** The largest report the listener reads; a bigger one is refused (552). */
  bounceMaxBytes: number;
  /** Soft bounces of a subscription within the window after which it is suspended. */
  softBounces: { limit: number; windowMs: number };
  /** Amazon SES through SNS: the topics whose notifications are taken, and a signing certificate pinned instead of fetched. */
  sesTopicArns: string[];
  sesSigningCert: string | null;
  /** SendGrid's Event Webhook verification key (base64 of the public key): its signed posts are taken. */
  sendgridKey: string | null;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = env[name]?.trim().toLowerCase();
  if (raw === undefined || raw === '') return fallback;
  if (['1', 'true', 'on', 'yes'].includes(raw)) return true;
  if (['0', 'false', 'off', 'no'].includes(raw)) return false;
  throw new ConfigError(name, `must be on or off (got "${env[name]}")`);
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return n;
}

const UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, k: 1024, mb: 1024 ** 2, m: 1024 ** 2, gb: 1024 ** 3, g: 1024 ** 3 };

/** A size in bytes: "1048576", "512kb", "10mb". */
function bytes(env: Env, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const m = /^\s*(\d+)\s*([kmg]?b?)\s*$/i.exec(raw);
  const n = m ? Number(m[1]) * UNITS[m[2].toLowerCase()] : NaN;
  if (!Number.isSafeInteger(n) || n < 1024) throw new ConfigError(name, `must be a size of at least 1kb, like 1048576, 512kb or 10mb (got "${raw}")`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
/** The longest retention: ten years. */
const MAX_DURATION_MS = 3650 * 86_400_000;

/** A duration: a whole number and a unit, "30d", "12h", "15m", "10s". */
function duration(env: Env, name: string, fallback: string): number {
  const raw = env[name] || fallback;
  const m = /^\s*(\d+)\s*([smhd])\s*$/i.exec(raw);
  const ms = m ? Number(m[1]) * DURATION_UNITS[m[2].toLowerCase()] : NaN;
  if (!(ms >= 1000 && ms <= MAX_DURATION_MS)) throw new ConfigError(name, `must be a duration from 1s to 3650d, like 30d, 12h, 15m or 10s (got "${raw}")`);
  return ms;
}

/** A URL setting whose scheme must be one of `schemes`; unset is null. */
function urlSetting(env: Env, name: string, schemes: string[], expected: string): string | null {
  const raw = env[name];
  if (!raw) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(name, `is not a URL (expected ${expected})`);
  }
  if (!schemes.includes(url.protocol)) throw new ConfigError(name, `must be ${expected}, not ${url.protocol}//`);
  return raw;
}

/** The query options of SALVO_SMTP_URL that Salvo sets itself, so the URL may not. */
const SMTP_URL_OWN = ['pool', 'maxConnections'];

function smtpUrl(env: Env): string | null {
  const raw = urlSetting(env, 'SALVO_SMTP_URL', ['smtp:', 'smtps:'], 'smtp://user:pass@host:587 or smtps://...');
  if (raw === null) return null;
  const own = SMTP_URL_OWN.filter((k) => new URL(raw).searchParams.has(k));
  if (own.length) throw new ConfigError('SALVO_SMTP_URL', `must not set ${own.join(' or ')}: Salvo always pools its SMTP connections, SALVO_SMTP_POOL of them`);
  return raw;
}

/** SALVO_SMTP_TLS_CA is a file of PEM certificates, read once at start-up. */
function smtpTls(env: Env): SmtpTls {
  const file = env.SALVO_SMTP_TLS_CA;
  let ca: string | null = null;
  if (file) {
    try {
      ca = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ConfigError('SALVO_SMTP_TLS_CA', `cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} (${file})`);
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----')) throw new ConfigError('SALVO_SMTP_TLS_CA', `must be a file of PEM certificates (-----BEGIN CERTIFICATE-----): ${file}`);
  }
  return { ca, rejectUnauthorized: flag(env, 'SALVO_SMTP_TLS_REJECT_UNAUTHORIZED', true) };
}

/** The base of v1.0 trigger links; by default this server's own address. */
function publicUrl(env: Env): string {
  const raw = urlSetting(env, 'SALVO_PUBLIC_URL', ['http:', 'https:'], 'an http:// or https:// URL, like https://trk.example.com');
  if (raw) return raw.replace(/\/+$/, '');
  const port = env.PORT || '8080';
  return `http://localhost${port === '80' ? '' : ':' + port}`;
}

const DOMAIN = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;

function feedbackSettings(env: Env): FeedbackSettings {
  const domain = env.SALVO_BOUNCE_DOMAIN?.trim() || null;
  if (domain && !DOMAIN.test(domain)) throw new ConfigError('SALVO_BOUNCE_DOMAIN', `must be a domain name, like bounces.shop.example (got "${domain}")`);
  const arns = (env.SALVO_SES_TOPIC_ARNS ?? '').split(',').map((a) => a.trim()).filter(Boolean);
  for (const arn of arns) if (!/^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]{1,256}$/.test(arn)) throw new ConfigError('SALVO_SES_TOPIC_ARNS', `must be SNS topic ARNs separated by commas, like arn:aws:sns:us-east-1:123456789012:ses-events (got "${arn}")`);
  const key = env.SALVO_SENDGRID_WEBHOOK_KEY?.trim() || null;
  if (key && !/^[A-Za-z0-9+/]{40,400}={0,2}$/.test(key)) throw new ConfigError('SALVO_SENDGRID_WEBHOOK_KEY', "must be the Event Webhook's verification key as SendGrid shows it (base64)");
  return {
    bounceDomain: domain?.toLowerCase() ?? null,
    bounceSmtpHost: env.SALVO_BOUNCE_SMTP_HOST || '0.0.0.0',
    bounceSmtpPort: integer(env, 'SALVO_BOUNCE_SMTP_PORT', 2525, 0, 65_535),
    bounceMaxBytes: bytes(env, 'SALVO_BOUNCE_MAX_BYTES', 1024 * 1024),
    softBounces: { limit: integer(env, 'SALVO_SOFT_BOUNCE_LIMIT', 3, 1, 1000), windowMs: duration(env, 'SALVO_SOFT_BOUNCE_WINDOW', '7d') },
    sesTopicArns: arns,
    sesSigningCert: env.SALVO_SES_SIGNING_CERT || null,
    sendgridKey: key,
  };
}

/** HOST: an IP address or a host name; the name must resolve to an address of this machine at listen. */
function host(env: Env): string {
  const raw = env.HOST || '127.0.0.1';
  const name = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/i;
  // A dotted all-digit name would be tried as a DNS name: it must be a real IPv4 address instead.
  if (isIP(raw) || (name.test(raw) && !/^[\d.]+$/.test(raw))) return raw;
  throw new ConfigError('HOST', `must be an IP address or a host name, like 127.0.0.1, 0.0.0.0, :: or localhost (got "${raw}")`);
}

/**
 * Whether Salvo runs as an installed program (`npm install -g`, or a dependency of another package)
 * rather than from its checkout: npm puts an installed package's files under a node_modules directory,
 * and a checkout is never there. `programFile` is this module's file (in dist/ or src/).
 */
export function isInstalled(programFile = fileURLToPath(import.meta.url)): boolean {
  return programFile.split(path.sep).includes('node_modules');
}

/**
 * SALVO_DATA_DIR when unset: ./data in a checkout (`npm start`, beside the code, as before), and the
 * XDG data directory for an installed program, which may be started from any directory:
 * $XDG_DATA_HOME/salvo, else ~/.local/share/salvo.
 */
export function defaultDataDir(env: Env, installed = isInstalled()): string {
  if (!installed) return path.resolve('data');
  // The XDG Base Directory spec: a relative XDG_DATA_HOME is invalid and ignored.
  const xdg = env.XDG_DATA_HOME && path.isAbsolute(env.XDG_DATA_HOME) ? env.XDG_DATA_HOME : path.join(env.HOME || homedir(), '.local', 'share');
  return path.join(xdg, 'salvo');
}

export function loadConfig(env: Env = process.env): Config {
  const token = env.SALVO_TOKEN || null;
  if (token !== null && (token.length < 16 || /\s/.test(token))) {
    throw new ConfigError('SALVO_TOKEN', 'must be at least 16 characters without spaces');
  }
  const logLevel = (env.SALVO_LOG_LEVEL || 'info') as Config['logLevel'];
  if (!LOG_LEVELS.includes(logLevel)) throw new ConfigError('SALVO_LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  return {
    port: integer(env, 'PORT', 8080, 0, 65535),
    host: host(env),
    dataDir: env.SALVO_DATA_DIR ? path.resolve(env.SALVO_DATA_DIR) : defaultDataDir(env),
    databaseUrl: urlSetting(env, 'SALVO_DATABASE_URL', ['postgres:', 'postgresql:'], 'a postgres:// URL (unset it for the embedded SQLite store)'),
    token,
    logLevel,
    bodyLimit: bytes(env, 'SALVO_BODY_LIMIT', 1024 * 1024),
    batchBodyLimit: bytes(env, 'SALVO_BATCH_BODY_LIMIT', 10 * 1024 * 1024),
    attachLimit: bytes(env, 'SALVO_ATTACH_LIMIT', 10 * 1024 * 1024),
    contentLimit: bytes(env, 'SALVO_CONTENT_LIMIT', 1024 * 1024),
    smtpUrl: smtpUrl(env),
    smtpPool: integer(env, 'SALVO_SMTP_POOL', 5, 1, 100),
    smtpTls: smtpTls(env),
    workers: integer(env, 'SALVO_WORKERS', 8, 0, 1000),
    maxAttempts: integer(env, 'SALVO_MAX_ATTEMPTS', 8, 1, 100),
    retryBaseMs: integer(env, 'SALVO_RETRY_BASE_MS', 10_000, 1, 86_400_000),
    retryMaxMs: integer(env, 'SALVO_RETRY_MAX_MS', 3_600_000, 1, 604_800_000),
    leaseMs: integer(env, 'SALVO_LEASE_SECONDS', 60, 1, 86_400) * 1000,
    pollMs: integer(env, 'SALVO_POLL_MS', 250, 10, 60_000),
    keepBody: integer(env, 'SALVO_KEEP_BODY', 65_536, 0, 10_000_000),
    dedupHours: integer(env, 'SALVO_DEDUP_HOURS', 24, 0, 24 * 365),
    dryRunMs: integer(env, 'SALVO_DRY_RUN_SECONDS', 20, 0, 3600) * 1000,
    publicUrl: publicUrl(env),
    publicRateLimit: integer(env, 'SALVO_PUBLIC_RATE_LIMIT', 600, 1, 1_000_000),
    mailerHeapMb: integer(env, 'SALVO_MAILER_HEAP_MB', 128, 16, 4096),
    sendTimeoutMs: integer(env, 'SALVO_SEND_TIMEOUT_SECONDS', 120, 1, 3600) * 1000,
    shutdownMs: integer(env, 'SALVO_SHUTDOWN_SECONDS', 20, 0, 3600) * 1000,
    hardBounce: flag(env, 'SALVO_HARDBOUNCE', true),
    renderLimits: {
      outputChars: bytes(env, 'SALVO_RENDER_OUTPUT_LIMIT', RENDER_LIMITS.outputChars),
      steps: integer(env, 'SALVO_RENDER_STEPS', RENDER_LIMITS.steps, 1000, 100_000_000),
    },
    storeRetryMs: integer(env, 'SALVO_STORE_RETRY_MS', 2000, 0, 60_000),
    pgPool: integer(env, 'SALVO_PG_POOL', 10, 1, 1000),
    http: httpLimits(env),
    metricsToken: env.SALVO_METRICS_TOKEN || null,
    providerDefaults: providerDefaults(env),
    smppTimeoutMs: integer(env, 'SALVO_SMPP_TIMEOUT_SECONDS', 30, 1, 600) * 1000,
    webhooks: {
      timeoutMs: integer(env, 'SALVO_WEBHOOK_TIMEOUT_MS', 10_000, 100, 600_000),
      concurrency: integer(env, 'SALVO_WEBHOOK_CONCURRENCY', 16, 1, 1000),
      disableAfterMs: integer(env, 'SALVO_WEBHOOK_DISABLE_AFTER_HOURS', 72, 1, 24 * 365) * 3_600_000,
    },
    egress: egressPolicy(env, publicUrl(env)),
    feedback: feedbackSettings(env),
    retention: {
      bodiesMs: duration(env, 'SALVO_RETAIN_BODIES', '30d'),
      messagesMs: duration(env, 'SALVO_RETAIN_MESSAGES', '400d'),
      outboxMs: duration(env, 'SALVO_RETAIN_OUTBOX', '7d'),
      webhookDeliveriesMs: duration(env, 'SALVO_RETAIN_WEBHOOK_DELIVERIES', '30d'),
      launchesMs: duration(env, 'SALVO_RETAIN_LAUNCHES', '400d'),
    },
  };
}

/** Checked with the same rules as a resource's own settings, so a bad default stops start-up, not a send. */
function providerDefaults(env: Env): ProviderDefaults {
  const checked = <T>(names: string, check: () => T): T => {
    try {
      return check();
    } catch (e) {
      throw new ConfigError(names, `is not valid: ${(e as Error).message}`);
    }
  };
  const smppUrl = env.SALVO_SMPP_URL ? checked('SALVO_SMPP_URL', () => checkSmpp({ url: env.SALVO_SMPP_URL }, 'SALVO_SMPP_URL').url) : null;
  const smsSender = env.SALVO_SMS_SENDER ? checked('SALVO_SMS_SENDER', () => checkSender(env.SALVO_SMS_SENDER, 'SALVO_SMS_SENDER')) ?? null : null;
  const vapid = [env.SALVO_VAPID_PUBLIC_KEY, env.SALVO_VAPID_PRIVATE_KEY, env.SALVO_VAPID_SUBJECT];
  if (vapid.some(Boolean) && !vapid.every(Boolean)) {
    throw new ConfigError('SALVO_VAPID_PUBLIC_KEY', 'SALVO_VAPID_PRIVATE_KEY and SALVO_VAPID_SUBJECT go together: set all three or none');
  }
  const webpush = vapid.every(Boolean)
    ? checked('SALVO_VAPID_*', () => checkWebPush({ vapid_public_key: vapid[0], vapid_private_key: vapid[1], subject: vapid[2] }, 'SALVO_VAPID'))
    : null;
  return { smppUrl, smsSender, webpush };
}

function httpLimits(env: Env): HttpLimits {
  const request = integer(env, 'SALVO_REQUEST_TIMEOUT_SECONDS', 30, 1, 3600);
  const headers = integer(env, 'SALVO_HEADERS_TIMEOUT_SECONDS', Math.min(10, request), 1, 3600);
  if (headers > request) throw new ConfigError('SALVO_HEADERS_TIMEOUT_SECONDS', `must not be longer than SALVO_REQUEST_TIMEOUT_SECONDS (${request})`);
  return {
    requestTimeoutMs: request * 1000,
    headersTimeoutMs: headers * 1000,
    keepAliveTimeoutMs: integer(env, 'SALVO_KEEPALIVE_SECONDS', 5, 1, 3600) * 1000,
    idleTimeoutMs: integer(env, 'SALVO_IDLE_TIMEOUT_SECONDS', 120, 0, 86_400) * 1000,
    maxConnections: integer(env, 'SALVO_MAX_CONNECTIONS', 1000, 1, 1_000_000),
  };
}
