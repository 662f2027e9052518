/**
 * Web Push (RFC 8030) with the `web-push` package: it encrypts the payload for the browser (RFC 8291,
 * aes128gcm) and signs the VAPID token (RFC 8292); the request goes out on our keep-alive client, so
 * that a burst reuses connections, the deadline is ours and http:// endpoints work for local services.
 */
import webpush from 'web-push';
import type { PushKeys } from '../../core/push.ts';
import { answerExcerpt } from '../../core/peer-answer.ts';
import type { HttpClient } from '../http-client.ts';
import { ProviderError } from '../provider-error.ts';
import { httpFailure } from './http.ts';
import type { WebPushSettings } from './settings.ts';

/** A VAPID token is signed for 12 hours and reused for 11 (RFC 8292 allows up to 24). */
const VAPID_LIFETIME_S = 12 * 3600;
const VAPID_REUSE_MS = 11 * 3600 * 1000;

export class WebPushSender {
  /** Authorization headers by application server key and push service origin. */
  private readonly vapid = new Map<string, { header: string; until: number }>();

  constructor(private readonly http: HttpClient) {}

  private authorization(s: WebPushSettings, audience: string, now: number): string {
    const key = `${s.vapid_public_key}\u0000${s.subject}\u0000${audience}`;
    const cached = this.vapid.get(key);
    if (cached && cached.until > now) return cached.header;
    let header: string;
    try {
      header = webpush.getVapidHeaders(audience, s.subject, s.vapid_public_key, s.vapid_private_key, 'aes128gcm', Math.floor(now / 1000) + VAPID_LIFETIME_S).Authorization;
    } catch (e) {
      throw new ProviderError(`the resource's Web Push (VAPID) settings are unusable: ${(e as Error).message}`, { code: 'VAPID_SETTINGS', permanent: true });
    }
    if (this.vapid.size > 10_000) this.vapid.clear();
    this.vapid.set(key, { header, until: now + VAPID_REUSE_MS });
    return header;
  }

  async send(s: WebPushSettings, endpoint: string, keys: PushKeys, payload: string, ttlSeconds: number): Promise<{ detail: string }> {
    const url = new URL(endpoint);
    const authorization = this.authorization(s, url.origin, Date.now());
    let details: { headers: unknown; body: Buffer };
    try {
      details = webpush.generateRequestDetails({ endpoint, keys }, payload, {
        TTL: ttlSeconds,
        urgency: 'high',
        // No vapidDetails: the Authorization header is ours, signed once per push service and reused.
        headers: { Authorization: authorization },
      });
    } catch (e) {
      throw new ProviderError(`the push could not be encrypted for this subscription: ${(e as Error).message}`, { code: 'WEBPUSH_ENCRYPT', permanent: true });
    }
    const a = await this.http.request(url, { method: 'POST', headers: details.headers as Record<string, string | number>, body: details.body }, `the push service at ${url.host}`);
    if (a.status >= 200 && a.status < 300) return { detail: `Web Push: ${url.host} answered ${a.status}` };
    throw httpFailure(a, `the push service at ${url.host} answered ${a.status}${a.body ? `: ${answerExcerpt(a.body)}` : ''}`, { goneMeansInvalid: true });
  }
}
