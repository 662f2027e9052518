/**
 * What an attempt to send a message comes to, decided from the message and what happened: sent (or
 * captured in the outbox), skipped (consent withdrawn since the launch), waiting for a retry, or failed for good. Pure, so the
 * rules that end a message (attempts, crashes, permanent refusals) are tested without a store.
 */
import { classifyFailure, retryDelay, type SendFailure } from './retry.ts';
import type { SentCopy } from './sent-copy.ts';
import type { HistoryEntry, Message, Profile, Subscription } from './types.ts';

/** Deaths of the sending thread a message may be part of before it is taken for the cause. */
export const MAX_CRASHES = 3;
/** The history detail that marks an attempt lost to a crashed sending thread; counted across restarts. */
const CRASH_MARK = 'the sending thread crashed';

export interface Outcome {
  status: 'sent' | 'captured' | 'waiting' | 'failed' | 'skipped';
  history: HistoryEntry[];
  next_attempt_at?: number;
  last_error?: string | null;
  skip_reason?: string | null;
  subject?: string | null;
  body?: string | null;
  /** What was sent besides subject and body (core/sent-copy.ts), kept with the body. */
  sent_copy?: SentCopy | null;
  /** The provider's id for a sent message (SMPP: its first part's message_id). */
  provider_message_id?: string | null;
  /** The SMSC's id of each part of a sent SMS, in order: what delivery receipts are matched by. */
  sms_parts?: string[];
  /** The SMSC those ids are its own (core/sms-receipt.ts smscKey): another SMSC may use the same ids. */
  sms_smsc?: string;
  /** A failure that is a hard bounce: reported to webhooks as message.bounced. */
  bounced?: boolean;
}

export interface RetryPolicy {
  maxAttempts: number;
  retryBaseMs: number;
  retryMaxMs: number;
}

/** A failure as the channel reported it, with what the dispatcher knows about it. */
export interface FailureFacts extends SendFailure {
  /** The thread that was sending it died (out of memory, killed, hung past the send timeout). */
  crashed?: boolean;
  /** It was the only send in that thread, so the death is its doing. */
  alone?: boolean;
  /** Composing failed for a reason no retry mends (campaign, template or profile gone; a render limit). */
  uncomposable?: boolean;
}

/**
 * Whether consent still holds when the message is sent: the profile's global status and the
 * subscription's status are read again, so a profile unsubscribed after its launch is not mailed.
 * Answers the skip reason, or null to send.
 */
export function consentAtSend(profile: Profile, to: Subscription, unconditional: boolean): string | null {
  if (profile.status !== 'active') return `profile_${profile.status}`;
  if (!unconditional && to.status !== 'subscribed') return to.status;
  return null;
}

/** Why a message whose profile was erased (profiles/delete) is not sent: its skip_reason. */
export const PROFILE_DELETED = 'profile_deleted';

/**
 * A claimed message whose profile no longer exists (erased after the message was made): skipped, its
 * history without the details it had, which may name the person (the erasure scrubbed them in the store).
 */
export function profileGoneOutcome(m: Message, now: number): Outcome {
  const history: HistoryEntry[] = m.history.map(({ status, time }) => ({ status, time }));
  return { status: 'skipped', skip_reason: PROFILE_DELETED, last_error: null, history: [...history, { status: 'skipped', time: now, detail: `${PROFILE_DELETED}: the profile no longer exists` }] };
}

export function failureOutcome(m: Message, started: HistoryEntry, e: FailureFacts, text: string, policy: RetryPolicy, now: number, random = Math.random): Outcome {
  let why = text;
  let final = e.uncomposable === true || classifyFailure(e) === 'permanent';
  if (e.crashed && e.alone) {
    const crashes = m.history.filter((h) => h.detail?.startsWith(CRASH_MARK)).length + 1;
    why = `${CRASH_MARK} while sending it (${crashes} of ${MAX_CRASHES}): ${text}`;
    if (crashes >= MAX_CRASHES) final = true;
  }
  if (!final && m.attempts < policy.maxAttempts) {
    const at = now + Math.max(retryDelay(m.attempts, policy.retryBaseMs, policy.retryMaxMs, random), e.retryAfterMs ?? 0);
    return { status: 'waiting', next_attempt_at: at, last_error: why, history: [...m.history, started, { status: 'waiting', time: now, detail: `${why}; retry at ${new Date(at).toISOString()}` }] };
  }
  if (!final) why = `${why} (gave up after ${m.attempts} attempts)`;
  return { status: 'failed', last_error: why, history: [...m.history, started, { status: 'failed', time: now, detail: why }] };
}

/**
 * A permanent refusal of the address (SMTP 5xx to RCPT TO, or 550/551/553 "no such mailbox" after
 * DATA): the subscription is hard-bounced. Other 5xx after DATA (552 too large, 554 refused as spam)
 * are about the message, not the address, and leave the subscription alone.
 */
export function isHardBounce(e: FailureFacts & { command?: string }): boolean {
  const code = e.responseCode;
  if (typeof code !== 'number' || code < 500 || code >= 600) return false;
  if (/^RCPT/i.test(e.command ?? '')) return true;
  return /^DATA/i.test(e.command ?? '') && [550, 551, 553].includes(code);
}
