/**
 * Apple Push Notification service over HTTP/2 with token authentication: an ES256 JWT (kid = key_id,
 * iss = team_id, iat) signed once and reused for 50 minutes (Apple refuses one older than an hour and
 * throttles one renewed more often than every 20 minutes). One HTTP/2 session per endpoint carries
 * every request; a session that closes or receives GOAWAY is dropped and the next send opens another.
 */
import http2, { type ClientHttp2Session } from 'node:http2';
import { importPKCS8, SignJWT } from 'jose';
import { parseRetryAfter } from '../../core/retry.ts';
import { answerExcerpt } from '../../core/peer-answer.ts';
import { EgressDenied, guardedLookup, literalRefusal } from '../egress.ts';
import { egressFailure } from '../http-client.ts';
import { ProviderError } from '../provider-error.ts';
import { jsonOf } from './http.ts';
import { APNS_ENDPOINT, type ApnsSettings } from './settings.ts';

const TOKEN_REUSE_MS = 50 * 60_000;

export interface ApnsAlert {
  title: string;
  body: string;
  /** Custom keys beside `aps`: url, message_id. */
  extra: Record<string, string | number>;
}

/** APNs reasons that mean the device token is gone (410 Unregistered) or never was one. */
const INVALID_TOKEN = new Set(['Unregistered', 'BadDeviceToken']);
/** Our provider token was refused: sign a new one and try once more. */
const STALE_TOKEN = new Set(['ExpiredProviderToken', 'InvalidProviderToken']);

export class ApnsSender {
  private readonly sessions = new Map<string, ClientHttp2Session>();
  private readonly tokens = new Map<string, { jwt: string; until: number }>();

  /** The egress policy's refusal of a session's connection, for the sends it fails. */
  private readonly refusals = new WeakMap<ClientHttp2Session, EgressDenied>();

  constructor(
    private readonly timeoutMs: number,
    private readonly denyPrivate: boolean,
  ) {}

  private session(origin: string): ClientHttp2Session {
    const open = this.sessions.get(origin);
    if (open && !open.closed && !open.destroyed) return open;
    if (this.denyPrivate) {
      const refused = literalRefusal(new URL(origin).hostname);
      if (refused) throw egressFailure(`APNs at ${origin}`, refused);
    }
    // The egress policy's resolver is the one the socket uses: the address checked is the one connected to.
    const s = http2.connect(origin, this.denyPrivate ? { lookup: guardedLookup } : {});
    const drop = () => {
      if (this.sessions.get(origin) === s) this.sessions.delete(origin);
    };
    // After GOAWAY the session takes no new streams: the next send opens another.
    s.on('goaway', drop);
    s.on('close', drop);
    s.on('error', (e) => {
      if (e instanceof EgressDenied) this.refusals.set(s, e);
      drop();
    });
    // An idle session must not keep the process alive.
    s.unref();
    this.sessions.set(origin, s);
    return s;
  }

  private async token(a: ApnsSettings, force: boolean): Promise<string> {
    const key = `${a.team_id}\u0000${a.key_id}`;
    const cached = this.tokens.get(key);
    if (!force && cached && cached.until > Date.now()) return cached.jwt;
    let jwt: string;
    try {
      const pk = await importPKCS8(a.private_key, 'ES256');
      jwt = await new SignJWT({}).setProtectedHeader({ alg: 'ES256', kid: a.key_id }).setIssuer(a.team_id).setIssuedAt().sign(pk);
    } catch (e) {
      throw new ProviderError(`the resource's APNs key is unusable: ${(e as Error).message}`, { code: 'APNS_SETTINGS', permanent: true });
    }
    this.tokens.set(key, { jwt, until: Date.now() + TOKEN_REUSE_MS });
    return jwt;
  }

  private post(origin: string, headers: http2.OutgoingHttpHeaders, body: string): Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: string }> {
    return new Promise((resolve, reject) => {
      let req: http2.ClientHttp2Stream;
      let session: ClientHttp2Session;
      const fail = (e: Error & { code?: string }) => {
        const refused = e instanceof EgressDenied ? e : e.cause instanceof EgressDenied ? e.cause : session ? this.refusals.get(session) : undefined;
        if (refused) reject(egressFailure(`APNs at ${origin}`, refused));
        else reject(e instanceof ProviderError ? e : new ProviderError(`APNs at ${origin} did not answer: ${e.message}`, { code: e.code ?? 'NETWORK' }));
      };
      try {
        session = this.session(origin);
        req = session.request(headers);
      } catch (e) {
        fail(e as Error);
        return;
      }
      const timer = setTimeout(() => {
        req.destroy(new ProviderError(`APNs at ${origin} did not answer within ${this.timeoutMs} ms`, { code: 'TIMEOUT' }));
        // A session that leaves a stream unanswered this long is likely dead (a half-open connection):
        // the next push opens another rather than waiting on it too.
        session.destroy();
      }, this.timeoutMs);
      let answer: http2.IncomingHttpHeaders | null = null;
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        answer = h;
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        clearTimeout(timer);
        // A stream that ends without an answer: the session went away under it.
        if (!answer) fail(new Error(`the stream closed without an answer (code ${req.rstCode})`));
        else resolve({ status: Number(answer[':status'] ?? 0), headers: answer, body: Buffer.concat(chunks).toString('utf8').slice(0, 4096) });
      });
      req.on('close', () => {
        clearTimeout(timer);
        fail(new Error(`the stream closed without an answer (code ${req.rstCode})`));
      });
      req.on('error', (e) => {
        clearTimeout(timer);
        fail(e);
      });
      req.end(body);
    });
  }

  async send(a: ApnsSettings, deviceToken: string, alert: ApnsAlert, ttlSeconds: number): Promise<{ detail: string; providerMessageId?: string }> {
    const origin = new URL(a.endpoint ?? APNS_ENDPOINT).origin;
    const body = JSON.stringify({ aps: { alert: { title: alert.title, body: alert.body }, sound: 'default' }, ...alert.extra });
    const attempt = async (force: boolean) =>
      this.post(
        origin,
        {
          ':method': 'POST',
          ':path': `/3/device/${encodeURIComponent(deviceToken)}`,
          authorization: `bearer ${await this.token(a, force)}`,
          'apns-topic': a.topic,
          'apns-push-type': 'alert',
          'apns-priority': '10',
          'apns-expiration': String(Math.floor(Date.now() / 1000) + ttlSeconds),
          'content-type': 'application/json',
        },
        body,
      );
    let r = await attempt(false);
    let reason = jsonOf(r.body).reason;
    if (r.status === 403 && typeof reason === 'string' && STALE_TOKEN.has(reason)) {
      r = await attempt(true);
      reason = jsonOf(r.body).reason;
    }
    const apnsId = typeof r.headers['apns-id'] === 'string' ? r.headers['apns-id'] : undefined;
    if (r.status === 200) return { detail: `APNs: ${new URL(origin).host} answered 200${apnsId ? ` (apns-id ${apnsId})` : ''}`, ...(apnsId ? { providerMessageId: apnsId } : {}) };
    const why = typeof reason === 'string' ? reason : undefined;
    const text = `APNs at ${new URL(origin).host} answered ${r.status}${why ? ` ${why}` : r.body ? `: ${answerExcerpt(r.body)}` : ''}`;
    const code = why ?? `HTTP_${r.status}`;
    if (r.status === 429 || r.status >= 500) throw new ProviderError(text, { code, retryAfterMs: parseRetryAfter(r.headers['retry-after'] as string | undefined, Date.now()) });
    throw new ProviderError(text, { code, permanent: true, subscriptionInvalid: (r.status === 410 || r.status === 400) && why !== undefined && INVALID_TOKEN.has(why) });
  }

  close(): void {
    for (const s of this.sessions.values()) s.close();
    this.sessions.clear();
  }
}
