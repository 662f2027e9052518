/**
 * GET /ready: whether this process can do its work now. The store must take a write, the mailer
 * thread must be running and the SMTP server must accept a TCP connection (the last two only with
 * SALVO_SMTP_URL). Each check is bounded in time; concurrent probes share one check in flight, and the
 * SMTP answer is kept a few seconds, so a probe every second neither piles up nor hammers the server.
 */
import { connect } from 'node:net';
import type { StoreLifecycle } from '../store/store.ts';
import type { SmtpChannel } from './smtp-channel.ts';
import { within } from '../support/time.ts';

/** "ok", or what is wrong, per part. */
export type Checks = Record<string, string>;

export interface ReadinessOptions {
  store: Pick<StoreLifecycle, 'probeWrite'>;
  smtpUrl: string | null;
  /** The SMTP channel, when email goes over SMTP (read at each check: it is made after the HTTP server). */
  smtp: () => SmtpChannel | null;
  /** Per check; 2 s by default. */
  timeoutMs?: number;
  /** How long an SMTP reachability answer is kept; 5 s by default. */
  smtpCacheMs?: number;
}


/** The default port of each scheme a peer's URL may have (nodemailer's for SMTP, the SMPP registry's, HTTP's). */
const DEFAULT_PORTS: Record<string, number> = { 'smtp:': 587, 'smtps:': 465, 'smpp:': 2775, 'smpps:': 3550, 'http:': 80, 'https:': 443 };

/** Host and port of a peer's URL, with its scheme's default port. */
function peerAddress(url: string): { host: string; port: number } {
  const u = new URL(url);
  return { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) || DEFAULT_PORTS[u.protocol] || 443 };
}

function tcpConnect(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    socket.setTimeout(timeoutMs, () => socket.destroy(Object.assign(new Error(`no connection within ${timeoutMs / 1000} s`), { code: 'ETIMEDOUT' })));
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}

/** An error in a few words: its code and message, without repeating the code or node's "connect " prefix. */
const reason = (e: unknown) => {
  const err = e as { code?: string; message?: string };
  const message = String(err.message ?? e).replace(/^connect /, '');
  return err.code && !message.includes(err.code) ? `${err.code}: ${message}` : message;
};

export class Readiness {
  private readonly timeoutMs: number;
  private readonly smtpCacheMs: number;
  private storeCheck: Promise<string> | null = null;
  private smtpCheck: { at: number; answer: Promise<string> } | null = null;

  constructor(private readonly o: ReadinessOptions) {
    this.timeoutMs = o.timeoutMs ?? 2000;
    this.smtpCacheMs = o.smtpCacheMs ?? 5000;
  }

  /** Every part's state; ready when all are "ok". */
  async check(): Promise<{ ready: boolean; checks: Checks }> {
    const url = this.o.smtpUrl;
    const thread = this.o.smtp();
    const [store, smtp] = await Promise.all([this.store(), url ? this.smtp(url) : null]);
    const checks: Checks = { store };
    if (url) {
      checks.mailer_thread = !thread ? 'dead: no mailer thread' : thread.alive() ? 'ok' : `dead: restarting after ${thread.lastCrash ?? 'a crash'}`;
      checks.smtp = smtp!;
    }
    return { ready: Object.values(checks).every((v) => v === 'ok'), checks };
  }

  private store(): Promise<string> {
    this.storeCheck ??= within(this.timeoutMs, 'the store', () => this.o.store.probeWrite())
      .then(() => 'ok', (e) => `failing: ${reason(e)}`)
      .finally(() => (this.storeCheck = null));
    return this.storeCheck;
  }

  private smtp(url: string): Promise<string> {
    const now = Date.now();
    if (this.smtpCheck && now - this.smtpCheck.at < this.smtpCacheMs) return this.smtpCheck.answer;
    const answer = probeSmtp(url, this.timeoutMs);
    this.smtpCheck = { at: now, answer };
    return answer;
  }
}

/** "ok" when the peer of `url` (SMTP, SMPP, HTTP) accepts a TCP connection within `timeoutMs`, else "unreachable: why (host:port)". */
export function probeSmtp(url: string, timeoutMs: number): Promise<string> {
  const { host, port } = peerAddress(url);
  return tcpConnect(host, port, timeoutMs).then(
    () => 'ok',
    (e) => {
      const where = `${host}:${port}`;
      const text = reason(e);
      return `unreachable: ${text.includes(where) ? text : `${text} (${where})`}`;
    },
  );
}
