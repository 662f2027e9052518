/**
 * The dispatcher's gate for a resource's sending limits (`email.limits`, `sms.limits`), kept together by
 * every process through the store (store/queries/send-limits.ts; rules in core/send-limits.ts).
 *
 * Before a send: a connection slot of the recipient's domain (per_domain_connections), then a pacing
 * slot (per_second, per_hour, or a relay's back-off). A slot within `horizonMs` is waited for here; one
 * further away holds the message back (the dispatcher parks it as waiting, no attempt charged) rather
 * than keeping a worker asleep. A resource without limits, and not backing off, costs no store call:
 * back-offs are learnt from a snapshot of the pacing table that upkeep refreshes (`refresh`).
 */
import type { FastifyBaseLogger } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { domainKey, holdTexts, isThrottleReply, pacingInterval, pacingKey, recipientDomain, type SendLimits } from '../core/send-limits.ts';
import type { Message, Resource } from '../core/types.ts';
import type { DeliveryMetrics } from '../metrics.ts';
import type { SendLimitStore } from '../store/store.ts';

/** How far ahead a reserved slot is waited for in the worker; beyond it the message is parked. */
const WAIT_HORIZON_MS = 2_000;
/** How often a worker looks again for a free per-domain connection while it waits for one. */
const CONNECTION_POLL_MS = 50;

export type Admission = { go: true; release: () => Promise<void> } | { go: false; until: number; why: string };

const nothingToRelease = async () => {};
const GO: Admission = { go: true, release: nothingToRelease };

/** The limits set on the resource for the message's channel. */
function limitsOf(resource: Resource, channel: Message['channel']): SendLimits | null {
  if (channel === 'email') return resource.email?.limits ?? null;
  if (channel === 'sms') return resource.sms?.limits ?? null;
  return null;
}

export interface SendLimiterDeps {
  store: SendLimitStore;
  worker: string;
  clock: () => number;
  /** How long a connection slot is held at most: a holder that died frees it then. */
  leaseMs: number;
  log: FastifyBaseLogger;
  metrics?: DeliveryMetrics;
  horizonMs?: number;
}

export class SendLimiter {
  /** Pacing keys with a slot in the future, as upkeep last read them (and as this process's own back-offs set them). */
  private paced = new Map<string, number>();
  private readonly horizonMs: number;

  constructor(private readonly d: SendLimiterDeps) {
    this.horizonMs = d.horizonMs ?? WAIT_HORIZON_MS;
  }

  /** Reads which resources back off now (one small query per upkeep, not one per message). */
  async refresh(now: number): Promise<void> {
    this.paced = await this.d.store.pacedKeys(now);
  }

  /** Whether the message may be sent now (after waiting at most the horizon), or until when it is held. */
  async admit(m: Message, resource: Resource): Promise<Admission> {
    const limits = limitsOf(resource, m.channel);
    const key = pacingKey(resource.id, m.channel);
    const backingOff = (this.paced.get(key) ?? 0) > this.d.clock();
    if (!limits && !backingOff) return GO;
    const started = this.d.clock();
    let release = nothingToRelease;
    const domain = m.channel === 'email' ? recipientDomain(m.address) : null;
    if (limits?.per_domain_connections && domain) {
      const slot = await this.connection(resource.id, domain, limits.per_domain_connections, m.id);
      if (!slot.go) return this.held(m, resource, slot.until, slot.why);
      ({ release } = slot);
    }
    const interval = limits ? pacingInterval(limits) : 0;
    if (interval > 0 || backingOff) {
      const r = await this.d.store.reserveSendSlot(key, interval, this.d.clock(), this.horizonMs);
      if (!r.reserved) {
        await release();
        const why = r.backoffUntil !== null || !limits ? holdTexts.backoff(resource.id, r.at) : holdTexts.rate(resource.id, limits, r.at);
        return this.held(m, resource, r.at, why);
      }
      const wait = r.at - this.d.clock();
      if (wait > 0) {
        await sleep(wait);
        // A relay asked any process to slow down while this send waited for its slot: the slot is void.
        // (One primary-key read, only for a send that waited; sends already on the wire cannot be called back.)
        const backoff = await this.d.store.backoffUntil(key, this.d.clock());
        if (backoff !== null) {
          await release();
          return this.held(m, resource, backoff, holdTexts.backoff(resource.id, backoff));
        }
      }
    }
    this.d.metrics?.limitWait(m.channel, (this.d.clock() - started) / 1000);
    return { go: true, release };
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

  private held(m: Message, resource: Resource, until: number, why: string): Admission {
    this.d.metrics?.limitHold(String(resource.id), m.channel);
    return { go: false, until, why };
  }

  /** A connection slot of (resource, domain): polled for up to the horizon, then the message is held a moment. */
  private async connection(resourceId: number, domain: string, max: number, messageId: number): Promise<Admission> {
    const key = domainKey(resourceId, domain);
    const holder = `${this.d.worker}:${messageId}`;
    const deadline = this.d.clock() + this.horizonMs;
    for (;;) {
      const now = this.d.clock();
      const slot = await this.d.store.acquireSendSlot(key, max, holder, now, now + this.d.leaseMs);
      if (slot !== null) return { go: true, release: () => this.d.store.releaseSendSlot(key, slot, holder) };
      if (now >= deadline) {
        const until = now + this.horizonMs;
        return { go: false, until, why: holdTexts.connections(resourceId, domain, max, until) };
      }
      await sleep(CONNECTION_POLL_MS);
    }
  }
}
