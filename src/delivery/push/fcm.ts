/**
 * Firebase Cloud Messaging, HTTP v1: the service account signs a JWT (RS256) that its `token_uri`
 * exchanges for an OAuth2 access token (RFC 7523), kept until five minutes before it expires, one
 * exchange in flight per account; then one POST per message.
 */
import { importPKCS8, SignJWT } from 'jose';
import { answerExcerpt } from '../../core/peer-answer.ts';
import type { HttpAnswer, HttpClient } from '../http-client.ts';
import { ProviderError } from '../provider-error.ts';
import { httpFailure, jsonOf } from './http.ts';
import { FCM_ENDPOINT, type FcmServiceAccount, type FcmSettings, GOOGLE_TOKEN_URI } from './settings.ts';

const SCOPE = 'https://www.googleapis.com/auth/firebase.messaging';
const REFRESH_MARGIN_MS = 5 * 60_000;

interface AccessToken {
  token: string;
  until: number;
}

export interface FcmNotification {
  title: string;
  body: string;
  /** String values only (FCM's data map). */
  data: Record<string, string>;
}

/** FCM's error status in its answer ({error: {status, details: [{errorCode}]}}): UNREGISTERED, QUOTA_EXCEEDED, ... */
function fcmErrorCode(body: string): string | undefined {
  const e = jsonOf(body).error as { status?: string; details?: { errorCode?: string }[] } | undefined;
  const code = (Array.isArray(e?.details) ? e.details.find((d) => d?.errorCode)?.errorCode : undefined) ?? e?.status;
  return typeof code === 'string' ? code : undefined;
}

export class FcmSender {
  private readonly tokens = new Map<string, AccessToken>();
  private readonly refreshing = new Map<string, Promise<AccessToken>>();

  constructor(private readonly http: HttpClient) {}

  private accessToken(sa: FcmServiceAccount, force: boolean): Promise<AccessToken> {
    const key = `${sa.token_uri ?? GOOGLE_TOKEN_URI}\u0000${sa.client_email}`;
    const cached = this.tokens.get(key);
    if (!force && cached && cached.until > Date.now()) return Promise.resolve(cached);
    let pending = this.refreshing.get(key);
    if (!pending) {
      pending = this.exchange(sa).finally(() => this.refreshing.delete(key));
      pending.then((t) => this.tokens.set(key, t)).catch(() => this.tokens.delete(key));
      this.refreshing.set(key, pending);
    }
    return pending;
  }

  private async exchange(sa: FcmServiceAccount): Promise<AccessToken> {
    const audience = sa.token_uri ?? GOOGLE_TOKEN_URI;
    let tokenUri: URL;
    let assertion: string;
    try {
      tokenUri = new URL(audience);
      const key = await importPKCS8(sa.private_key, 'RS256');
      assertion = await new SignJWT({ scope: SCOPE })
        .setProtectedHeader({ alg: 'RS256', typ: 'JWT', ...(typeof sa.private_key_id === 'string' ? { kid: sa.private_key_id } : {}) })
        .setIssuer(sa.client_email)
        .setAudience(audience)
        .setIssuedAt()
        .setExpirationTime('1h')
        .sign(key);
    } catch (e) {
      throw new ProviderError(`the resource's FCM service account is unusable: ${(e as Error).message}`, { code: 'FCM_SETTINGS', permanent: true });
    }
    const body = new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer', assertion }).toString();
    const a = await this.http.request(tokenUri, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) }, body }, `the OAuth token endpoint ${tokenUri.host}`);
    const text = `the OAuth token endpoint ${tokenUri.host} answered ${a.status}${a.body ? `: ${answerExcerpt(a.body)}` : ''}`;
    if (a.status !== 200) throw httpFailure(a, text, { goneMeansInvalid: false });
    const t = jsonOf(a.body);
    if (typeof t.access_token !== 'string') throw new ProviderError(`${text} (no access_token)`, { code: 'FCM_TOKEN' });
    const lifetime = typeof t.expires_in === 'number' ? t.expires_in * 1000 : 3600_000;
    return { token: t.access_token, until: Date.now() + Math.max(lifetime - REFRESH_MARGIN_MS, lifetime / 2) };
  }

  async send(s: FcmSettings, registrationToken: string, n: FcmNotification, ttlSeconds: number): Promise<{ detail: string; providerMessageId?: string }> {
    const sa = s.service_account;
    const url = new URL(`/v1/projects/${encodeURIComponent(sa.project_id)}/messages:send`, s.endpoint ?? FCM_ENDPOINT);
    const message = {
      message: {
        token: registrationToken,
        notification: { title: n.title, body: n.body },
        data: n.data,
        android: { priority: 'HIGH', ttl: `${ttlSeconds}s` },
      },
    };
    const body = JSON.stringify(message);
    const post = async (force: boolean): Promise<HttpAnswer> => {
      const { token } = await this.accessToken(sa, force);
      const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body) };
      return this.http.request(url, { method: 'POST', headers, body }, `FCM at ${url.host}`);
    };
    let a = await post(false);
    // A token revoked or expired early: one fresh token, one more try.
    if (a.status === 401) a = await post(true);
    if (a.status === 200) {
      const name = typeof jsonOf(a.body).name === 'string' ? (jsonOf(a.body).name as string) : undefined;
      return { detail: `FCM: ${url.host} answered 200${name ? ` (${name})` : ''}`, ...(name ? { providerMessageId: name } : {}) };
    }
    const code = fcmErrorCode(a.body);
    const text = `FCM at ${url.host} answered ${a.status}${code ? ` ${code}` : ''}${a.body ? `: ${answerExcerpt(a.body)}` : ''}`;
    if (code === 'UNREGISTERED') throw new ProviderError(text, { code, permanent: true, subscriptionInvalid: true });
    throw httpFailure(a, text, { goneMeansInvalid: false, code });
  }
}
