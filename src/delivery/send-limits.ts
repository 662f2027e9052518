/**
 * The dispatcher's gate for a resource's sending limits (`email.limits`, `sms.limits`), kept together by
 * every process through the store (store/queries/send-limits.ts; rules in core/send-limits.ts).
 *
 * Before a send: a connection slot of the recipient's domain (per_domain_connections), then a pacing
 * slot (per_second, per_hour, or a relay's back-off). A slot within 2 s is waited for here; one further
 * away holds the message back with that slot (the dispatcher parks it as waiting until the slot, no
 * attempt charged, and sends it at its slot when it comes back) rather than keeping a worker asleep. A resource without limits, and not backing off, costs no store call:
 * back-offs are learnt from a snapshot of the pacing table that upkeep refreshes (`refresh`).
 */
import type { FastifyBaseLogger } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { domainKey, holdTexts, isThrottleReply, pacingInterval, pacingKey, recipientDomain, type SendLimits } from '../core/send-limits.ts';
import type { Message, Resource } from '../core/types.ts';
import type { Catalog } from '../engine/catalog.ts';
import type { DeliveryMetrics } from '../metrics.ts';
import type { SendLimitStore } from '../store/store.ts';

/** How far ahead a reserved slot is waited for in the worker; beyond it the message is held (parked). */
const WAIT_HORIZON_MS = 2_000;
/**
 * How far ahead slots are handed out. A message held with a slot keeps it and is sent at it, so a
 * backlog is held once per message, in order. Beyond this a message is held without a slot (it comes
 * back when the slots have moved on) so that a message of higher priority arriving later waits behind
 * at most this much of the backlog, and a changed limit applies within it.
 */
const RESERVE_AHEAD_MS = 600_000;
/** A held message coming back later than this after its slot takes a new one: sending on an old slot could burst. */
const STALE_SLOT_MS = 1_000;
/** How often a worker looks again for a free per-domain connection while it waits for one. */
const CONNECTION_POLL_MS = 50;

/** A send may go: at `at` (its pacing slot; null when not paced), then `release` its domain connection. */
export type Admission = { go: true; at: number | null; key: string; release: () => Promise<void> } | Hold;
/** A message held back until `until`, keeping `slot` (its reserved slot) if it has one. */
export type Hold = { go: false; until: number; slot: number | null; why: string };

const nothingToRelease = async () => {};

/** The limits set on the resource for the message's channel. */
function limitsOf(resource: Resource, channel: Message['channel']): SendLimits | null {
  if (channel === 'email') return resource.email?.limits ?? null;
  if (channel === 'sms') return resource.sms?.limits ?? null;
  return null;
}

export interface SendLimiterDeps {
  store: SendLimitStore;
  catalog: Pick<Catalog, 'campaign' | 'resource'>;
  worker: string;
  clock: () => number;
  /** How long a connection slot is held at most: a holder that died frees it then. */
  leaseMs: number;
  log: FastifyBaseLogger;
  metrics?: DeliveryMetrics;
}

export class SendLimiter {
  /** Pacing keys with a slot in the future, as upkeep last read them (and as this process's own back-offs set them). */
  private paced = new Map<string, number>();

  constructor(private readonly d: SendLimiterDeps) {}

  /** Reads which resources back off now (one small query per upkeep, not one per message). */
  async refresh(now: number): Promise<void> {
    this.paced = await this.d.store.pacedKeys(now);
  }

  /**
   * Before composing: whether the message may be sent (a domain connection and a slot within the wait
   * horizon taken), or until when it is held; null when its campaign or resource is gone (compose then
   * fails the message, naming which). `clear` then waits for the slot.
   */
  async admit(m: Message): Promise<Admission | null> {
    // From the catalog's cache, as compose reads it.
    const campaign = await this.d.catalog.campaign(m.campaign_id);
    const resource = campaign ? await this.d.catalog.resource(campaign.resource_id) : null;
    if (!resource) return null;
    const limits = limitsOf(resource, m.channel);
    const key = pacingKey(resource.id, m.channel);
    const backingOff = (this.paced.get(key) ?? 0) > this.d.clock();
    if (!limits && !backingOff) return { go: true, at: null, key, release: nothingToRelease };
    let release = nothingToRelease;
    const domain = m.channel === 'email' ? recipientDomain(m.address) : null;
    if (limits?.per_domain_connections && domain) {
      const slot = await this.connection(resource.id, domain, limits.per_domain_connections, m.id);
      if (!slot.go) return this.held(m, resource, slot);
      ({ release } = slot);
    }
    try {
      return await this.pace(m, resource, limits, key, backingOff, release);
    } catch (e) {
      // The store failed: the message is handed back, so its connection slot is too (or it expires).
      await release();
      throw e;
    }
  }

  private async pace(m: Message, resource: Resource, limits: SendLimits | null, key: string, backingOff: boolean, release: () => Promise<void>): Promise<Admission> {
    const interval = limits ? pacingInterval(limits) : 0;
    if (interval === 0 && !backingOff) return { go: true, at: null, key, release };
    const now = this.d.clock();
    let at: number;
    let backoffUntil: number | null = null;
    if (m.send_slot_at != null && m.send_slot_at >= now - STALE_SLOT_MS) {
      // Held before with a slot of its own: it is sent at it (a back-off since is checked by `clear`).
      at = m.send_slot_at;
    } else {
      const r = await this.d.store.reserveSendSlot(key, interval, now, RESERVE_AHEAD_MS);
      backoffUntil = r.backoffUntil;
      if (!r.reserved) {
        await release();
        // No slot within RESERVE_AHEAD_MS: back when the slots handed out have half run out.
        const until = Math.max(now + WAIT_HORIZON_MS, r.at - RESERVE_AHEAD_MS / 2);
        return this.held(m, resource, { go: false, until, slot: null, why: this.why(resource, limits, backoffUntil, r.at) });
      }
      at = r.at;
    }
    if (at - now > WAIT_HORIZON_MS) {
      await release();
      // Back a second early (upkeep promotes every SALVO_POLL_MS): the worker then waits for the exact slot.
      return this.held(m, resource, { go: false, until: at - WAIT_HORIZON_MS / 2, slot: at, why: this.why(resource, limits, backoffUntil, at) });
    }
    return { go: true, at, key, release };
  }

  /**
   * After composing: waits for the slot. A relay may have asked any process to slow down meanwhile
   * (one primary-key read, for a send that waited; sends already on the wire cannot be called back):
   * the message is then held until the back-off ends, to take a new slot.
   */
  async clear(m: Message, resource: Resource, a: Admission & { go: true }): Promise<Admission> {
    if (a.at === null) return a;
    const started = this.d.clock();
    const wait = a.at - started;
    if (wait > 0) await sleep(wait);
    const backoff = wait > 0 || m.send_slot_at != null ? await this.d.store.backoffUntil(a.key, this.d.clock()) : null;
    if (backoff !== null) return this.held(m, resource, { go: false, until: backoff, slot: null, why: holdTexts.backoff(resource.id, backoff) });
    this.d.metrics?.limitWait(m.channel, Math.max(0, wait) / 1000);
    return a;
  }

  private why(resource: Resource, limits: SendLimits | null, backoffUntil: number | null, at: number): string {
    return backoffUntil !== null || !limits ? holdTexts.backoff(resource.id, at) : holdTexts.rate(resource.id, limits, at);
  }

  /** The connection slot goes back once the send is over; if the store will not take it now, it expires by itself. */
  private async releaseConnection(key: string, slot: number, holder: string): Promise<void> {
    try {
      await this.d.store.releaseSendSlot(key, slot, holder);
    } catch (err) {
      this.d.log.warn({ err, key }, 'could not free a per-domain connection slot; it frees itself when its lease ends');
    }
  }

  /** A relay said 421 or 454: the resource's channel backs off in every process (core nextBackoff). */
  async failed(m: Message, resource: Resource, e: { responseCode?: number }): Promise<void> {
    if (!isThrottleReply(e)) return;
    const key = pacingKey(resource.id, m.channel);
    const until = await this.d.store.backOffSending(key, this.d.clock());
    this.paced.set(key, until);
    this.d.metrics?.limitBackoff(String(resource.id), m.channel);
    this.d.log.warn({ resource: resource.id, channel: m.channel, until: new Date(until).toISOString(), reply: e.responseCode }, 'the relay asked to slow down; the resource backs off in every worker');
  }

  private held(m: Message, resource: Resource, hold: Hold): Hold {
    this.d.metrics?.limitHold(String(resource.id), m.channel);
    return hold;
  }

  /** A connection slot of (resource, domain): polled for up to the horizon, then the message is held a moment. */
  private async connection(resourceId: number, domain: string, max: number, messageId: number): Promise<{ go: true; release: () => Promise<void> } | Hold> {
    const key = domainKey(resourceId, domain);
    const holder = `${this.d.worker}:${messageId}`;
    const deadline = this.d.clock() + WAIT_HORIZON_MS;
    for (;;) {
      const now = this.d.clock();
      const slot = await this.d.store.acquireSendSlot(key, max, holder, now, now + this.d.leaseMs);
      if (slot !== null) return { go: true, release: () => this.releaseConnection(key, slot, holder) };
      if (now >= deadline) {
        const until = now + WAIT_HORIZON_MS;
        return { go: false, until, slot: null, why: holdTexts.connections(resourceId, domain, max, until) };
      }
      await sleep(CONNECTION_POLL_MS);
    }
  }
}
