/**
 * Delivery workers. The dispatcher claims queued messages (highest priority first) under a lease,
 * renders each with the profile as it is now and the launch's content, hands it to its channel, and
 * records the outcome: sent; waiting for a retry (transient failure, exponential backoff with
 * jitter); or failed (permanent failure, or attempts exhausted). A message whose worker died is queued
 * again when its lease runs out, so a kill loses nothing (it may send that message twice).
 */
import type { FastifyBaseLogger } from 'fastify';
import { hostname } from 'node:os';
import type { Attachment } from '../core/attachments.ts';
import { randomHex } from '../core/ids.ts';
import { renderMessage, type RenderedMessage } from '../core/message.ts';
import { profileDocument, subscriptionView } from '../core/profile.ts';
import { classifyFailure, retryDelay } from '../core/retry.ts';
import type { HistoryEntry, Message, Profile, Subscription } from '../core/types.ts';
import type { Config } from '../config.ts';
import type { Catalog } from '../engine/catalog.ts';
import { BackgroundLoop } from '../engine/waker.ts';
import type { Outcome } from '../store/queries/messages.ts';
import type { Store } from '../store/store.ts';
import type { Channel } from './channels.ts';

/** A message that cannot be composed (its campaign, template or profile is gone): no retry helps. */
class ComposeError extends Error {}

export interface DispatcherDeps {
  store: Store;
  catalog: Catalog;
  channels: Record<RenderedMessage['channel'], Channel>;
  config: Pick<Config, 'workers' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'leaseMs' | 'pollMs' | 'keepBody'>;
  log: FastifyBaseLogger;
}

/** The text of a failure, as kept in last_error: SMTP replies with their code. */
function failureText(e: unknown): string {
  const err = e as { responseCode?: number; response?: string; message?: string; code?: string };
  if (err.responseCode) return `SMTP ${err.response ?? err.responseCode}`.slice(0, 1000);
  return `${err.code ? err.code + ': ' : ''}${err.message ?? String(e)}`.slice(0, 1000);
}

export class Dispatcher extends BackgroundLoop {
  readonly worker = `${hostname()}:${process.pid}:${randomHex(3)}`;
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly d: DispatcherDeps) {
    super();
  }

  override start(): void {
    if (this.d.config.workers > 0) super.start();
  }

  /** Stops claiming, lets what is in flight finish, hands back what it claimed but did not start. */
  override async stop(): Promise<void> {
    await super.stop();
    await Promise.allSettled([...this.inflight]);
    const unstarted = this.claimed.splice(0).map((c) => c.message.id);
    if (unstarted.length) await this.d.store.releaseMessages(this.worker, unstarted);
  }

  /** Claimed messages waiting for a free slot, with the profile data loaded for them. */
  private readonly claimed: { message: Message; profiles: Map<string, Profile>; subscriptions: Subscription[] }[] = [];

  /**
   * Claims ahead: twice the workers, so that a slot that frees never waits for a claim, and loads
   * the profiles and subscriptions of the whole claim in two queries rather than two per message.
   */
  private async claim(now: number): Promise<number> {
    const { store, config } = this.d;
    const want = config.workers * 2 - this.claimed.length - this.inflight.size;
    if (want <= 0) return 0;
    const messages = await store.claimMessages(this.worker, want, now, now + config.leaseMs);
    if (messages.length === 0) return 0;
    const ids = [...new Set(messages.map((m) => m.profile_id))];
    const [profiles, subscriptions] = await Promise.all([store.getProfiles(ids), store.getSubscriptions(ids)]);
    const byId = new Map(profiles.map((p) => [p.id, p]));
    for (const message of messages) this.claimed.push({ message, profiles: byId, subscriptions: subscriptions.filter((x) => x.profile_id === message.profile_id) });
    return messages.length;
  }

  protected async loop(): Promise<void> {
    const { store, config, log } = this.d;
    let lastUpkeep = 0;
    while (!this.stopped) {
      try {
        const now = Date.now();
        if (now - lastUpkeep >= config.pollMs) {
          lastUpkeep = now;
          await store.promoteWaiting(now);
          const retaken = await store.requeueExpired(now);
          if (retaken) log.warn({ retaken }, 'queued again messages whose worker stopped holding them');
        }
        const got = await this.claim(now);
        while (this.inflight.size < config.workers && this.claimed.length) {
          const next = this.claimed.shift()!;
          const p: Promise<void> = this.deliver(next.message, next.profiles.get(next.message.profile_id), next.subscriptions).finally(() => {
            this.inflight.delete(p);
            this.waker.wake();
          });
          this.inflight.add(p);
        }
        if (got === 0 || this.inflight.size >= config.workers) await this.waker.wait(config.pollMs);
      } catch (e) {
        log.error({ err: e }, 'claiming messages failed; retrying');
        await this.waker.wait(config.pollMs * 4);
      }
    }
  }

  /** The message as its channel sends it, and the launch's attachments. */
  private async compose(m: Message, profile: Profile | undefined, subscriptions: Subscription[]): Promise<{ rendered: RenderedMessage; attachments: Attachment[] }> {
    const { catalog } = this.d;
    const campaign = await catalog.campaign(m.campaign_id);
    if (!campaign) throw new ComposeError(`campaign ${m.campaign_id} no longer exists`);
    const [template, resource, launch] = await Promise.all([
      catalog.template(campaign.content[0].message_id),
      catalog.resource(campaign.resource_id),
      catalog.launch(m.launch_id),
    ]);
    if (!template || !resource || !launch) throw new ComposeError(`the template, resource or launch of campaign ${campaign.id} no longer exists`);
    if (!profile) throw new ComposeError(`profile ${m.profile_id} no longer exists`);
    const to = subscriptions.find((s) => s.id === m.subscription_id);
    if (!to) throw new ComposeError(`subscription ${m.subscription_id} of profile ${m.profile_id} no longer exists`);
    const ctx = {
      lead: { ...profileDocument(profile), ...m.overrides },
      apicontent: launch.content,
      subscription: subscriptionView(to),
      subscriptions: subscriptions.map(subscriptionView),
    };
    let rendered: RenderedMessage;
    try {
      rendered = renderMessage(template, campaign, resource, to, ctx);
    } catch (e) {
      throw new ComposeError(`rendering failed: ${(e as Error).message}`);
    }
    const attachments = m.channel === 'email' ? await catalog.attachmentsOf(launch.id) : [];
    return { rendered, attachments };
  }

  private keep(rendered: RenderedMessage): { subject: string | null; body: string | null } {
    const limit = this.d.config.keepBody;
    const body = rendered.channel === 'email' ? (rendered.html ?? rendered.text ?? '') : rendered.channel === 'sms' ? rendered.text : rendered.body;
    const subject = rendered.channel === 'email' ? rendered.subject : rendered.channel === 'push' ? rendered.title : null;
    return { subject, body: limit > 0 ? body.slice(0, limit) : null };
  }

  private async deliver(claimed: Message, profile: Profile | undefined, subscriptions: Subscription[]): Promise<void> {
    let m = claimed;
    const { store, channels, config, log } = this.d;
    const started: HistoryEntry = { status: 'sending', time: Date.now(), detail: `attempt ${m.attempts} by ${this.worker}` };
    // A previous attempt that recorded no outcome was lost with its worker; say so in the history.
    if (m.last_error && m.history[m.history.length - 1]?.status !== 'waiting') {
      m = { ...m, history: [...m.history, { status: 'queued', time: m.updated_at, detail: m.last_error }] };
    }
    let outcome: Outcome;
    try {
      const { rendered, attachments } = await this.compose(m, profile, subscriptions);
      const result = await channels[rendered.channel].send(rendered, { message: m, attachments });
      outcome = { status: 'sent', history: [...m.history, started, { status: 'sent', time: Date.now(), detail: result.detail }], last_error: null, ...this.keep(rendered) };
    } catch (e) {
      const text = failureText(e);
      const permanent = e instanceof ComposeError || classifyFailure(e as object) === 'permanent';
      const now = Date.now();
      if (!permanent && m.attempts < config.maxAttempts) {
        const at = now + retryDelay(m.attempts, config.retryBaseMs, config.retryMaxMs);
        outcome = { status: 'waiting', next_attempt_at: at, last_error: text, history: [...m.history, started, { status: 'waiting', time: now, detail: `${text}; retry at ${new Date(at).toISOString()}` }] };
      } else {
        const why = permanent ? text : `${text} (gave up after ${m.attempts} attempts)`;
        outcome = { status: 'failed', last_error: why, history: [...m.history, started, { status: 'failed', time: now, detail: why }] };
      }
      log.info({ message: m.id, status: outcome.status, error: text }, 'send failed');
    }
    if (!(await store.completeMessage(m.id, this.worker, outcome, Date.now()))) {
      log.warn({ message: m.id }, 'message was retaken by another worker before its outcome was recorded');
    }
  }
}
