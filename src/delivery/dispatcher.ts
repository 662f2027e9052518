/**
 * Delivery workers. The dispatcher claims queued messages (highest priority first) under a lease,
 * renews the lease while it holds them, renders each with the profile as it is now and the launch's
 * content, hands it to its channel, and records the outcome (core/outcome.ts decides it).
 *
 * Nothing here may take the process down or send twice without a crash: every store call is caught
 * and retried with backoff, an outcome that cannot be recorded is held (its lease still renewed)
 * until the store takes it, and a message whose worker died is queued again when its lease runs out.
 */
import type { FastifyBaseLogger } from 'fastify';
import { hostname } from 'node:os';
import type { Attachment } from '../core/attachments.ts';
import { isStoreUnavailable } from '../core/errors.ts';
import { randomHex } from '../core/ids.ts';
import type { RenderedMessage } from '../core/message.ts';
import { withHold } from '../core/send-limits.ts';
import { consentAtSend, failureOutcome, isHardBounce, profileGoneOutcome, type FailureFacts, type Outcome } from '../core/outcome.ts';
import type { HistoryEntry, Message, Profile, Resource, Subscription } from '../core/types.ts';
import type { Config } from '../config.ts';
import type { Catalog } from '../engine/catalog.ts';
import { ComposeError, composeMessage, type LinkSigning } from '../engine/compose.ts';
import { BackgroundLoop, storeBackoff } from '../support/background-loop.ts';
import type { Pressure } from '../support/pressure.ts';
import type { DeliveryMetrics } from '../metrics.ts';
import type { MessageStore, ProfileStore, SendLimitStore } from '../store/store.ts';
import type { Channel, SendContext, SendResult } from './channels.ts';
import { LeaseKeeper } from './leases.ts';
import { sentCopyOf } from './sent-copy.ts';
import { type Hold, SendLimiter } from './send-limits.ts';
import { WriteBatch } from './write-batch.ts';
import { setTimeout as sleep } from 'node:timers/promises';


/** What delivery reads and writes: the queue, and the profiles and subscriptions messages go to. */
type DeliveryAreas = Pick<
  MessageStore,
  'claimMessages' | 'completeMessages' | 'handBackMessages' | 'holdMessage' | 'launchesToSend' | 'promoteWaiting' | 'releaseMessages' | 'requeueExpired' | 'renewLeases'
> &
  Pick<ProfileStore, 'getProfiles' | 'getSubscriptions' | 'setSubscriptionStatus'> &
  SendLimitStore;

export interface DispatcherDeps {
  store: DeliveryAreas;
  catalog: Catalog;
  channels: Record<RenderedMessage['channel'], Channel>;
  config: Pick<Config, 'workers' | 'maxAttempts' | 'retryBaseMs' | 'retryMaxMs' | 'leaseMs' | 'pollMs' | 'keepBody' | 'hardBounce' | 'renderLimits'> &
    Partial<Pick<Config, 'providerDefaults'>>;
  log: FastifyBaseLogger;
  metrics?: DeliveryMetrics;
  /** The time it works by (what is due, when leases end); tests move it forward rather than wait. Date.now unless given. */
  clock?: () => number;
  /** Email's public links (unsubscribe, tracking); none without it. */
  links?: LinkSigning;
  /** Launch requests in flight in this process (the HTTP side counts them): delivery yields to them while they are many. */
  accepting?: Pick<Pressure, 'pressed'>;
}

/**
 * While launch requests are many in flight, a claim at most this often: delivery then takes a
 * small share of the event loop (at most 2 x SALVO_WORKERS messages a period) and the requests the
 * rest, so that a burst of triggers is answered first and delivered after. A floor, not a stop:
 * under a load that never ends, messages still go out. Once the requests are few, claims go on
 * at full speed.
 */
const YIELD_CLAIM_MS = 100;

/** The text of a failure, as kept in last_error: SMTP replies with their code. */
function failureText(e: unknown): string {
  const err = e as { responseCode?: number; response?: string; message?: string; code?: string };
  if (err.responseCode) return `SMTP ${err.response ?? err.responseCode}`.slice(0, 1000);
  return `${err.code ? err.code + ': ' : ''}${err.message ?? String(e)}`.slice(0, 1000);
}


interface Claimed {
  message: Message;
  profiles: Map<string, Profile>;
  subscriptions: Subscription[];
}

export class Dispatcher extends BackgroundLoop {
  readonly worker = `${hostname()}:${process.pid}:${randomHex(3)}`;
  /** Messages taken up for delivery until their outcome is recorded (their leases are renewed meanwhile). */
  private readonly inflight = new Map<number, Promise<void>>();
  /** Those of them whose send is over and whose outcome is being recorded: they no longer take a worker's slot. */
  private readonly recording = new Set<number>();
  /** Claimed messages waiting for a free slot, with the profile data loaded for them. */
  private readonly claimed: Claimed[] = [];
  private readonly leases: LeaseKeeper;
  /** The resources' sending limits, kept with every other process through the store. */
  private readonly limiter: SendLimiter;
  /** Outcomes written together: those that finish while a write is on its way share the next. */
  private readonly outcomes = new WriteBatch<Outcome, true>(async (items) => {
    const recorded = await this.d.store.completeMessages(this.worker, items.map(({ id, item }) => ({ id, outcome: item })), this.now());
    return new Map([...recorded].map((id) => [id, true]));
  });

  private readonly now: () => number;
  /** When the last claim was made (performance.now(): the pacing under pressure, not the store's clock). */
  private lastClaimAt = -Infinity;

  constructor(private readonly d: DispatcherDeps) {
    super();
    this.now = d.clock ?? Date.now;
    this.leases = new LeaseKeeper({
      clock: this.now,
      store: d.store,
      worker: this.worker,
      leaseMs: d.config.leaseMs,
      log: d.log,
      metrics: d.metrics,
      held: () => [...this.inflight.keys(), ...this.claimed.map((c) => c.message.id)],
      recording: (id) => this.recording.has(id),
      // A waiting claim that another worker retook must not be sent here as well.
      lost: (ids) => this.dropClaims(ids),
    });
    this.limiter = new SendLimiter({ store: d.store, catalog: d.catalog, worker: this.worker, clock: this.now, leaseMs: d.config.leaseMs, log: d.log, metrics: d.metrics });
  }

  override start(): void {
    if (this.d.config.workers <= 0) return;
    super.start();
    this.leases.start();
  }

  /**
   * Stops claiming and hands back what was claimed but not started; waits for sends in flight up to
   * `deadlineMs`, then hands those back too (the peer may have taken them: the one case, besides a
   * crash, where a message can go out twice).
   */
  override async stop(deadlineMs = Infinity): Promise<void> {
    await super.stop();
    await this.handBack(this.claimed.splice(0).map((c) => c.message.id), 'release');
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'late'>((r) => {
      if (Number.isFinite(deadlineMs)) timer = setTimeout(() => r('late'), deadlineMs);
    });
    const finished = await Promise.race([Promise.allSettled([...this.inflight.values()]).then(() => 'done' as const), deadline]);
    clearTimeout(timer);
    if (finished === 'late') await this.handBack([...this.inflight.keys()], 'abandon');
    this.leases.stop();
  }

  private async handBack(ids: number[], how: 'release' | 'abandon'): Promise<void> {
    if (ids.length === 0) return;
    const { store, config, log } = this.d;
    try {
      if (how === 'release') await store.releaseMessages(this.worker, ids);
      else {
        await store.handBackMessages(this.worker, ids, this.now(), config.maxAttempts, 'the worker stopped (shutdown deadline) while sending it; it may have been delivered');
        log.warn({ messages: ids }, 'shutdown deadline passed with sends in flight; handed them back');
      }
    } catch (err) {
      this.d.metrics?.storeError('delivery');
      log.error({ err, messages: ids }, 'could not hand messages back; they are queued again when their lease runs out');
    }
  }

  private dropClaims(ids: Set<number>): void {
    for (let i = this.claimed.length - 1; i >= 0; i--) if (ids.has(this.claimed[i].message.id)) this.claimed.splice(i, 1);
  }

  /**
   * Claims ahead: twice the workers, so that a slot that frees never waits for a claim, and loads
   * the profiles, subscriptions and launches of the whole claim in three queries sent together rather
   * than per message (a trigger is a launch of its own: its content and attachments were two reads a send).
   * While half a round of workers is still waiting it does not claim: topping up one or two at a time
   * as slots free would cost a claim and a read per message.
   */
  private async claim(now: number): Promise<number> {
    const { store, config } = this.d;
    const want = config.workers * 2 - this.claimed.length - this.sending();
    if (want <= 0 || this.claimed.length >= Math.ceil(config.workers / 2)) return 0;
    this.lastClaimAt = performance.now();
    const messages = await store.claimMessages(this.worker, want, now, now + config.leaseMs);
    if (messages.length === 0) return 0;
    try {
      const ids = [...new Set(messages.map((m) => m.profile_id))];
      const [profiles, subscriptions, launches] = await Promise.all([
        store.getProfiles(ids),
        store.getSubscriptions(ids),
        this.launchesToRead(messages),
      ]);
      for (const l of launches) await this.d.catalog.knowLaunch(l.launch, l.attachments);
      const byId = new Map(profiles.map((p) => [p.id, p]));
      for (const message of messages) this.claimed.push({ message, profiles: byId, subscriptions: subscriptions.filter((x) => x.profile_id === message.profile_id) });
    } catch (e) {
      await this.handBack(messages.map((m) => m.id), 'release');
      throw e;
    }
    return messages.length;
  }

  /** The launches of a claim the catalog does not hold yet (a fan-out's is read once, not with every claim). */
  private launchesToRead(messages: Message[]) {
    const ids = this.d.catalog.unknownLaunches(messages.map((m) => m.launch_id));
    return ids.length ? this.d.store.launchesToSend(ids) : Promise.resolve([]);
  }

  private async upkeep(now: number): Promise<void> {
    const { store, config, log } = this.d;
    await store.promoteWaiting(now);
    await this.limiter.refresh(now);
    const { requeued, failed } = await store.requeueExpired(now, config.maxAttempts);
    if (requeued || failed) log.warn({ requeued, failed }, 'messages whose worker stopped holding them: queued again, or failed when out of attempts');
  }

  protected async loop(): Promise<void> {
    const { config, log } = this.d;
    let lastUpkeep = 0;
    while (!this.stopped) {
      try {
        const now = this.now();
        if (now - lastUpkeep >= config.pollMs) {
          lastUpkeep = now;
          // Our own leases first: after a store outage they may have run out while we still hold the
          // work. Retaking expired messages only after our own renewal went through, or we could
          // requeue (and send again) what we are still sending.
          if (await this.leases.renewIfStale()) await this.upkeep(now);
        }
        const held = this.yielding();
        const got = held > 0 ? 0 : await this.claim(now);
        this.stepSucceeded();
        while (this.hasSlot() && this.claimed.length) {
          const next = this.claimed.shift()!;
          // Never the same message twice at once (it could only come back through a retake of our own).
          if (!this.inflight.has(next.message.id)) this.startDelivery(next);
        }
        if (held > 0) await this.waker.wait(held);
        else if (got === 0 || !this.hasSlot()) await this.waker.wait(config.pollMs);
      } catch (err) {
        this.d.metrics?.storeError('delivery');
        await this.backOff(err, log, 'delivery');
      }
    }
  }

  /** How long to hold off the next claim: launch requests are many in flight and the last claim was under YIELD_CLAIM_MS ago; 0 to claim now. */
  private yielding(): number {
    if (!this.d.accepting?.pressed()) return 0;
    return Math.max(0, YIELD_CLAIM_MS - (performance.now() - this.lastClaimAt));
  }

  /** Whether messages are in hand (claimed, being sent or recorded): the expander then paces itself. */
  active(): boolean {
    return this.inflight.size > 0 || this.claimed.length > 0;
  }

  /** Sends in flight: what SALVO_WORKERS bounds. */
  private sending(): number {
    return this.inflight.size - this.recording.size;
  }

  /**
   * A send may start: fewer than SALVO_WORKERS sends in flight, and fewer than that many outcomes
   * waiting to be written besides. The second bound holds sends back while the store does not take
   * outcomes (an outage, another process's lock): at most twice the workers sent and not recorded.
   */
  private hasSlot(): boolean {
    const { workers } = this.d.config;
    return this.sending() < workers && this.inflight.size < workers * 2;
  }

  /**
   * The send is over: its slot goes to the next message while the outcome is written. Holding the
   * slot through the write kept the SMTP connections waiting on the store (docs/performance-log.md, C on SQLite).
   */
  private sendOver(id: number): void {
    this.recording.add(id);
    this.waker.wake();
  }

  private startDelivery(c: Claimed): void {
    const id = c.message.id;
    const p = this.deliver(c.message, c.profiles.get(c.message.profile_id), c.subscriptions)
      // deliver catches everything it can foresee; this is the last net, so one message never takes the process.
      .catch((err) => this.d.log.error({ err, message: id }, 'delivering a message failed unexpectedly; its lease will run out and it is retried'))
      .finally(() => {
        this.inflight.delete(id);
        this.recording.delete(id);
        this.waker.wake();
      });
    this.inflight.set(id, p);
  }

  /** The message as its channel sends it, and the launch's attachments. */
  private async compose(m: Message, profile: Profile, to: Subscription, subscriptions: Subscription[]): Promise<{ rendered: RenderedMessage; attachments: Attachment[]; resource: Resource }> {
    const { catalog } = this.d;
    const campaign = await catalog.campaign(m.campaign_id);
    if (!campaign) throw new ComposeError(`campaign ${m.campaign_id} no longer exists`);
    const launch = await catalog.launch(m.launch_id);
    if (!launch) throw new ComposeError(`launch ${m.launch_id} of campaign ${campaign.id} no longer exists`);
    const { rendered, resource } = await composeMessage(catalog, campaign, m, launch.content, { profile, to, subscriptions }, {
      limits: this.d.config.renderLimits,
      providerDefaults: this.d.config.providerDefaults,
      ...(this.d.links ? { links: { ...this.d.links, messageId: m.id } } : {}),
    });
    const attachments = m.channel === 'email' ? await catalog.attachmentsOf(launch.id) : [];
    return { rendered, attachments, resource };
  }

  private keep(rendered: RenderedMessage): { subject: string | null; body: string | null } {
    const limit = this.d.config.keepBody;
    const body = rendered.channel === 'email' ? (rendered.html ?? rendered.text ?? '') : rendered.channel === 'sms' ? rendered.text : rendered.body;
    const subject = rendered.channel === 'email' ? rendered.subject : rendered.channel === 'push' ? rendered.title : null;
    return { subject, body: limit > 0 ? body.slice(0, limit) : null };
  }

  /** Consent as it is now: a profile or subscription that opted out after the launch is skipped. */
  private async withdrawn(m: Message, profile: Profile, to: Subscription): Promise<string | null> {
    const campaign = await this.d.catalog.campaign(m.campaign_id);
    return consentAtSend(profile, to, campaign?.unconditional_sending ?? false);
  }

  private async deliver(m: Message, profile: Profile | undefined, subscriptions: Subscription[]): Promise<void> {
    const { channels, config, log } = this.d;
    const started: HistoryEntry = { status: 'sending', time: this.now(), detail: `attempt ${m.attempts} by ${this.worker}` };
    let outcome: Outcome;
    try {
      const to = subscriptions.find((s) => s.id === m.subscription_id);
      const skip = profile && to ? await this.withdrawn(m, profile, to) : null;
      if (!profile) {
        // Erased (profiles/delete) after the message was made: no one to send to, and nothing of the person to keep.
        outcome = profileGoneOutcome(m, this.now());
      } else if (!to) {
        throw new ComposeError(`subscription ${m.subscription_id} of profile ${m.profile_id} no longer exists`);
      } else if (skip) {
        outcome = { status: 'skipped', skip_reason: skip, last_error: null, history: [...m.history, { status: 'skipped', time: this.now(), detail: `${skip} at send time` }] };
      } else {
        // The sending limits are asked before rendering, so that a held message costs no render.
        const admission = await this.limiter.admit(m);
        if (admission && !admission.go) return this.hold(m, admission);
        let result: SendResult;
        let rendered: RenderedMessage;
        let sendContext: SendContext;
        try {
          const composed = await this.compose(m, profile, to, subscriptions);
          const { attachments, resource } = composed;
          rendered = composed.rendered;
          const cleared = admission ? await this.limiter.clear(m, resource, admission) : null;
          if (cleared && !cleared.go) return this.hold(m, cleared);
          const message = rendered;
          const ctx: SendContext = { message: m, attachments, resource, subscription: to };
          sendContext = ctx;
          result = await this.timed(message.channel, () => channels[message.channel].send(message, ctx)).catch(async (e) => {
            await this.limiter.failed(m, resource, e as FailureFacts).catch((err) => log.error({ err, message: m.id }, 'could not record the back-off a relay asked for'));
            throw e;
          });
        } finally {
          if (admission?.go) await admission.release();
        }
        const status = result.captured ? 'captured' : 'sent';
        outcome = {
          status,
          history: [...m.history, started, { status, time: this.now(), detail: result.detail }],
          last_error: null,
          provider_message_id: result.providerMessageId ?? null,
          ...(result.smsParts?.length ? { sms_parts: result.smsParts, ...(result.smsc ? { sms_smsc: result.smsc } : {}) } : {}),
          ...this.keep(rendered),
          sent_copy: sentCopyOf(rendered, sendContext, result, config.keepBody),
        };
      }
    } catch (e) {
      if (isStoreUnavailable(e)) {
        // Nothing was sent: the store failed while composing. Not the message's fault, so no attempt is charged.
        this.d.metrics?.storeError('delivery');
        log.warn({ err: e, message: m.id }, 'the store failed while composing a message; handing it back');
        await this.record(m, 'release', () => this.d.store.releaseMessages(this.worker, [m.id]).then(() => true));
        return;
      }
      const text = failureText(e);
      outcome = failureOutcome(m, started, e as FailureFacts, text, config, this.now());
      if (outcome.status === 'failed' && isHardBounce(e as FailureFacts)) outcome.bounced = true;
      log.warn({ message: m.id, campaign: m.campaign_id, channel: m.channel, status: outcome.status, error: text }, 'send failed');
      if (m.subscription_id !== null) {
        if (config.hardBounce && isHardBounce(e as FailureFacts)) await this.markSubscription(m, 'hardbounced');
        else if ((e as FailureFacts).subscriptionInvalid) await this.markSubscription(m, 'invalid');
      }
    }
    this.d.metrics?.outcome(m.channel, outcome.status);
    this.sendOver(m.id);
    await this.record(m, outcome.status, async () => (await this.outcomes.add(m.id, outcome)) === true);
  }

  /** A sending limit holds the message back: waiting until its slot (kept, if it was given one), the claim's attempt given back. */
  private async hold(m: Message, hold: Hold): Promise<void> {
    const now = this.now();
    this.d.log.debug({ message: m.id, until: new Date(hold.until).toISOString() }, hold.why);
    this.sendOver(m.id);
    const history = withHold(m.history, { status: 'waiting', time: now, detail: hold.why });
    await this.record(m, 'waiting', () => this.d.store.holdMessage(this.worker, m.id, hold.until, hold.slot, history, now));
  }

  private async timed<T>(channel: string, send: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      return await send();
    } finally {
      this.d.metrics?.sendSeconds(channel, (performance.now() - started) / 1000);
    }
  }

  /** The provider said the address is gone (hard bounce, push 410): later launches skip the subscription. */
  private async markSubscription(m: Message, status: 'hardbounced' | 'invalid'): Promise<void> {
    try {
      await this.d.store.setSubscriptionStatus(m.subscription_id!, status, this.now());
    } catch (err) {
      this.d.metrics?.storeError('delivery');
      this.d.log.error({ err, message: m.id }, `could not mark the subscription ${status}`);
    }
  }

  /**
   * Records the outcome, retrying while the store is unavailable: the message stays in flight (its
   * lease renewed) until the store takes it, so it is neither lost nor sent again. Gives up when the
   * message is no longer this worker's, when the store refuses the write for another reason, or when
   * the dispatcher is stopping (the lease then runs out).
   */
  private async record(m: Message, what: string, write: () => Promise<boolean>): Promise<void> {
    const { log } = this.d;
    for (let failures = 0; ; failures++) {
      try {
        if (!(await write())) {
          log.warn({ message: m.id }, 'message was no longer ours when its outcome was recorded (retaken after its lease ran out, or its profile erased); the outcome is dropped');
        }
        return;
      } catch (err) {
        this.d.metrics?.storeError('record');
        if (!isStoreUnavailable(err)) {
          // Not an outage: retrying would hold the slot for ever. The lease runs out and the attempts cap ends it.
          log.error({ err, message: m.id, status: what }, 'the store refused an outcome; the message is retried after its lease');
          return;
        }
        if (this.stopped && failures >= 3) {
          log.error({ err, message: m.id }, 'stopping with an outcome the store would not take; the message is retried after its lease');
          return;
        }
        const wait = storeBackoff(failures);
        log.warn({ err, message: m.id, status: what, retryInMs: wait }, 'recording an outcome failed; retrying');
        await sleep(wait);
      }
    }
  }
}
