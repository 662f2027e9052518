/**
 * The push channel: picks the provider for each push (core/push.ts pushProviderOf: keys → Web Push,
 * else the subscription's provider names FCM or APNs) and sends it with the campaign resource's
 * settings for that provider. A resource without settings for it keeps the push in the outbox.
 */
import { pushProviderOf, type PushProvider } from '../../core/push.ts';
import type { RenderedMessage } from '../../core/message.ts';
import type { Channel, SendContext, SendResult } from '../channels.ts';
import { ProviderError } from '../provider-error.ts';
import { ApnsSender } from './apns.ts';
import { FcmSender } from './fcm.ts';
import { HttpClient } from '../http-client.ts';
import { DEFAULT_TTL_SECONDS, pushSettingsOf } from './settings.ts';
import { WebPushSender } from './webpush.ts';

type Push = Extract<RenderedMessage, { channel: 'push' }>;

const NAMES: Record<PushProvider, string> = { webpush: 'Web Push', fcm: 'FCM', apns: 'APNs' };

export class PushChannel implements Channel {
  private readonly http: HttpClient;
  private readonly webpush: WebPushSender;
  private readonly fcm: FcmSender;
  private readonly apns: ApnsSender;

  /**
   * `timeoutMs`: the longest a provider may take to answer one push before it counts as a failed (retried)
   * attempt; `denyPrivate`: the egress policy (SALVO_EGRESS_DENY_PRIVATE) on every provider connection.
   */
  constructor(
    private readonly outbox: Channel,
    timeoutMs: number,
    denyPrivate: boolean,
  ) {
    this.http = new HttpClient(timeoutMs, { denyPrivate });
    this.webpush = new WebPushSender(this.http);
    this.fcm = new FcmSender(this.http);
    this.apns = new ApnsSender(timeoutMs, denyPrivate);
  }

  async send(m: RenderedMessage, ctx: SendContext): Promise<SendResult> {
    if (m.channel !== 'push') throw new ProviderError(`the push channel cannot send a ${m.channel} message`, { permanent: true });
    const settings = pushSettingsOf(ctx.resource);
    const sub = ctx.subscription;
    const provider = pushProviderOf(sub);
    const ttl = settings.ttl ?? DEFAULT_TTL_SECONDS;
    const extra = { ...(m.url ? { url: m.url } : {}), ...(m.icon ? { icon: m.icon } : {}), message_id: ctx.message.id };
    if (provider === 'webpush' && settings.webpush) {
      return this.webpush.send(settings.webpush, sub.address, sub.keys!, JSON.stringify({ title: m.title, body: m.body, ...extra }), ttl);
    }
    if (provider === 'fcm' && settings.fcm) {
      const data = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, String(v)]));
      return this.fcm.send(settings.fcm, sub.address, { title: m.title, body: m.body, data }, ttl);
    }
    if (provider === 'apns' && settings.apns) return this.apns.send(settings.apns, sub.address, { title: m.title, body: m.body, extra }, ttl);
    await this.outbox.send(m, ctx);
    return { detail: `captured in the outbox: ${this.whyOutbox(m, provider, ctx.resource.id)}`, captured: true };
  }

  private whyOutbox(m: Push, provider: PushProvider | null, resource: number): string {
    if (provider) return `resource ${resource} has no ${NAMES[provider]} settings`;
    return `no provider for push provider '${m.provider}' without keys (Web Push needs keys; FCM and APNs need an android/ios provider)`;
  }

  async close(): Promise<void> {
    this.http.close();
    this.apns.close();
  }
}
