/**
 * Messages as a queue: insert per launch, claim under a lease (highest priority first), complete,
 * retake what a dead worker held.
 */
import type { Outcome } from '../../core/outcome.ts';
import type { HistoryEntry, Launch, Message, MessageStatus, NewMessage } from '../../core/types.ts';
import { chunks, insertRows, placeholders, type Row, type SqlDriver } from '../driver.ts';
import { json } from './rows.ts';
import { toLaunch } from './launches.ts';
import { EVENT_COLUMNS, recordOutcomes, type OutcomeRecord, type WebhooksHint } from './outcomes.ts';
import { anyWebhooks, writeMessageEvent } from './webhooks.ts';


const toMessage = (r: Row): Message => ({
  id: r.id as number,
  launch_id: r.launch_id as number,
  campaign_id: r.campaign_id as number,
  profile_id: r.profile_id as string,
  subscription_id: (r.subscription_id as number | null) ?? null,
  channel: r.channel as Message['channel'],
  address: (r.address as string | null) ?? null,
  status: r.status as MessageStatus,
  skip_reason: (r.skip_reason as string | null) ?? null,
  priority: r.priority as number,
  attempts: r.attempts as number,
  next_attempt_at: r.next_attempt_at as number,
  lease_until: (r.lease_until as number | null) ?? null,
  worker: (r.worker as string | null) ?? null,
  last_error: (r.last_error as string | null) ?? null,
  history: json(r.history),
  overrides: json(r.overrides),
  custom_data: json(r.custom_data),
  variant: (r.variant as number | null) ?? null,
  template_id: (r.template_id as number | null) ?? null,
  subject: (r.subject as string | null) ?? null,
  body: (r.body as string | null) ?? null,
  sent_copy: json(r.sent_copy),
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
  sent_at: (r.sent_at as number | null) ?? null,
  provider_message_id: (r.provider_message_id as string | null) ?? null,
  send_slot_at: r.send_slot_at === null || r.send_slot_at === undefined ? null : Number(r.send_slot_at),
  engagement: {
    opens: Number(r.opens ?? 0),
    machine_opens: Number(r.machine_opens ?? 0),
    clicks: Number(r.clicks ?? 0),
    machine_clicks: Number(r.machine_clicks ?? 0),
    unsubscribed_at: r.unsubscribed_at === null || r.unsubscribed_at === undefined ? null : Number(r.unsubscribed_at),
  },
});

export interface MessageFilter {
  campaign_id?: number;
  launch_id?: number;
  profile_id?: string;
  status?: MessageStatus;
  channel?: Message['channel'];
  provider_message_id?: string;
  /** The address an email was sent to, case-insensitively. */
  email?: string;
  /** The phone an SMS was sent to, exactly. */
  phone?: string;
}

/** Which failed messages messages/retry re-drives: `ids`, and/or those of a launch or a campaign. */
export interface RedriveFilter {
  ids?: number[];
  launch_id?: number;
  campaign_id?: number;
}

export interface QueueStats {
  /** Messages by status, for the statuses still to be delivered. */
  depth: Record<'queued' | 'waiting' | 'sending', number>;
  /** When the longest-due queued message became due (ms since the epoch); null when none is queued. */
  oldestDueAt: number | null;
}

export const MESSAGE_COLUMNS = [
  'launch_id', 'campaign_id', 'profile_id', 'subscription_id', 'channel', 'address', 'status', 'skip_reason', 'priority',
  'attempts', 'next_attempt_at', 'history', 'overrides', 'custom_data', 'variant', 'template_id', 'created_at', 'updated_at',
] as const;

/** A profile already in the launch keeps its message. */
export const NEW_MESSAGE_CONFLICT = 'ON CONFLICT (launch_id, profile_id) DO NOTHING';

/** The row a new message is stored as (launch_id null: the launch is being inserted in the same statement). */
export const messageRow = (launchId: number | null, m: NewMessage, now: number) => ({
  launch_id: launchId,
  campaign_id: m.campaign_id,
  profile_id: m.profile_id,
  subscription_id: m.subscription_id,
  channel: m.channel,
  address: m.address,
  status: m.status,
  skip_reason: m.skip_reason,
  priority: m.priority,
  attempts: 0,
  next_attempt_at: m.next_attempt_at,
  history: JSON.stringify([{ status: m.status, time: now, ...(m.skip_reason ? { detail: m.skip_reason } : {}) }]),
  overrides: m.overrides && JSON.stringify(m.overrides),
  custom_data: m.custom_data && JSON.stringify(m.custom_data),
  variant: m.variant,
  template_id: m.template_id,
  created_at: now,
  updated_at: now,
});

export interface VariantCount {
  variant: number | null;
  template_id: number | null;
  status: MessageStatus;
  n: number;
}

type HeldRow = { id: number; attempts: number; worker: string | null; history: string };

/** A claimed message's launch, and whether it has attachments (their bytes are read only then). */
export interface LaunchToSend {
  launch: Launch;
  attachments: boolean;
}

/** Messages as a queue: added per launch, claimed under a lease, completed, retaken from a dead worker, re-driven. */
export interface MessageStore {
  /** Messages created since `since`, by channel and current status; `recent` counts those created since `recentSince`. */
  countMessagesSince(since: number, recentSince: number): Promise<{ channel: string; status: string; n: number; recent: number }[]>;
  /** Adds a launch's messages; a profile already in the launch is left as it is. Answers how many were added. */
  insertMessages(launchId: number, rows: NewMessage[], now: number): Promise<number>;
  /** Profiles of `profileIds` that got (or are getting) a message of the campaign since `since`. */
  recentRecipients(campaignId: number, profileIds: string[], since: number): Promise<Set<string>>;
  /** Waiting messages whose time has come become queued. */
  promoteWaiting(now: number): Promise<number>;
  /**
   * Messages whose worker's lease ran out (it died, hung, or its process was killed) are queued
   * again; one that has used all its attempts fails instead, so a message that kills whatever sends
   * it (a poison message) ends.
   */
  requeueExpired(now: number, maxAttempts: number): Promise<{ requeued: number; failed: number }>;
  /**
   * A worker stopping with sends still in flight past its deadline hands them back: they are queued
   * again (the peer may have taken them, so one may arrive twice) rather than waiting out the lease.
   */
  handBackMessages(worker: string, ids: number[], now: number, maxAttempts: number, why: string): Promise<{ requeued: number; failed: number }>;
  /**
   * Extends the leases of messages `worker` is still holding (sending, or claimed and waiting for a
   * slot). Answers the ids it still holds: one missing was retaken after its lease ran out.
   */
  renewLeases(worker: string, ids: number[], leaseUntil: number, now: number): Promise<Set<number>>;
  /** Takes up to `limit` queued messages, highest priority first, for `worker` until `leaseUntil`. */
  claimMessages(worker: string, limit: number, now: number, leaseUntil: number): Promise<Message[]>;
  /**
   * The launches of claimed messages, each with whether it has attachments: read with the claim's
   * profiles (one statement, the same round trip), so a send of a launch of its own (every trigger)
   * reads neither its launch nor its (absent) attachments one by one.
   */
  launchesToSend(ids: number[]): Promise<LaunchToSend[]>;
  /** Messages claimed but not started by a worker that stops cleanly go back to the queue at once. */
  releaseMessages(worker: string, ids: number[]): Promise<void>;
  /**
   * A claimed message a sending limit holds back: waiting until `until` (promoteWaiting queues it
   * again) with the send slot it was given (or null), the attempt its claim counted given back, its
   * history as `history`. Answers whether it was still this worker's.
   */
  holdMessage(worker: string, id: number, until: number, slot: number | null, history: HistoryEntry[], now: number): Promise<boolean>;
  /**
   * Records an attempt's outcome, if the message is still this worker's; answers whether it was. The
   * SMS parts a provider took (their ids, for receipts) are written in the same transaction.
   */
  completeMessage(id: number, worker: string, o: Outcome, now: number): Promise<boolean>;
  /** completeMessage for many messages at once (store/queries/outcomes.ts); answers the ids recorded. */
  completeMessages(worker: string, records: OutcomeRecord[], now: number): Promise<Set<number>>;
  /** campaigns/deactivate with abort_if_running: what has not started sending is dropped. */
  abortQueued(campaignId: number, now: number): Promise<number>;
  getMessage(id: number): Promise<Message | null>;
  /** Newest first; `beforeId` pages on. */
  listMessages(f: MessageFilter, beforeId: number | null, limit: number): Promise<Message[]>;
  countMessagesByStatus(launchId: number): Promise<Record<string, number>>;
  /** campaigns/stats: a campaign's messages (or one launch's) counted by variant, template and status. */
  countMessagesByVariant(campaignId: number, launchId: number | null): Promise<VariantCount[]>;
  /**
   * messages/retry: failed messages matching the filter are queued again with a full set of
   * attempts, at most `limit` of them (lowest ids first); last_error is kept and `entry` is added to
   * their history. Set-based, and exact on both stores: history is JSON text ending in `]`, so the
   * entry is spliced in as text rather than re-serialised (PostgreSQL's jsonb would reorder keys).
   */
  redriveFailed(f: RedriveFilter, entry: HistoryEntry, limit: number): Promise<{ queued: number; more: boolean }>;
  /**
   * messages/cancel: the named messages still queued or waiting end failed with `entry.detail` as their
   * last error (message.failed to webhooks, as an abort); the ids of those it cancelled.
   */
  cancelQueued(ids: number[], entry: HistoryEntry): Promise<number[]>;
  /** The queue at a glance, for the metrics: one statement, each part counted over its partial index. */
  queueStats(): Promise<QueueStats>;
}

/**
 * Messages whose lease ran out, a thousand at a time (the next upkeep takes the rest). No ORDER BY:
 * with `ORDER BY id` SQLite walked the whole table in id order instead of the partial index of
 * sending messages, every upkeep (each SALVO_POLL_MS): 12 % of the main thread in a 100k fan-out,
 * and growing with the table. Exported for the test that asks SQLite for its plan.
 */
export const REQUEUE_EXPIRED = "SELECT id, attempts, worker, history FROM messages WHERE status = 'sending' AND lease_until < ? LIMIT 1000";

export function messageQueries(db: SqlDriver): MessageStore {
  const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
  const webhooksHint: WebhooksHint = { enabled: false };

  /** Queues held messages again, or fails those out of attempts. Rare, so row by row: each history stays exact on both stores. */
  async function returnToQueue(rows: HeldRow[], now: number, maxAttempts: number, reason: (worker: string | null) => string, expiredOnly: boolean) {
    let requeued = 0;
    let failed = 0;
    for (const m of rows) {
      const final = m.attempts >= maxAttempts;
      const why = final ? `${reason(m.worker)} (gave up after ${m.attempts} attempts)` : reason(m.worker);
      const history = [...json<HistoryEntry[]>(m.history), { status: final ? 'failed' : 'queued', time: now, detail: why }];
      const changed = await db.transaction(async (tx) => {
        const row = await tx.get(
          `UPDATE messages SET status = ?, worker = NULL, lease_until = NULL, last_error = ?, history = ?, updated_at = ?
           WHERE id = ? AND status = 'sending' AND worker IS NOT DISTINCT FROM ? ${expiredOnly ? 'AND lease_until < ?' : ''} RETURNING *`,
          [final ? 'failed' : 'queued', why, JSON.stringify(history), now, m.id, m.worker, ...(expiredOnly ? [now] : [])],
        );
        if (row && final) await writeMessageEvent(tx, row, now);
        return row !== undefined;
      });
      if (changed && final) failed++;
      else if (changed) requeued++;
    }
    return { requeued, failed };
  }
  return {
    async insertMessages(launchId: number, rows: NewMessage[], now: number): Promise<number> {
      // A message skipped at launch gets its message.skipped event in the same transaction when webhooks
      // are set up: then row by row (each event needs its row); otherwise all rows in one statement.
      const hooks = rows.some((m) => m.status === 'skipped') && (await anyWebhooks(db));
      if (!hooks) return insertRows(db, 'messages', MESSAGE_COLUMNS, rows.map((m) => messageRow(launchId, m, now)), NEW_MESSAGE_CONFLICT);
      const sql = `INSERT INTO messages (${MESSAGE_COLUMNS.join(', ')}) VALUES (${placeholders(MESSAGE_COLUMNS.length)}) ${NEW_MESSAGE_CONFLICT}`;
      let added = 0;
      for (const m of rows) {
        const row = messageRow(launchId, m, now);
        const params = MESSAGE_COLUMNS.map((c) => row[c]);
        if (m.status !== 'skipped') {
          added += await db.run(sql, params);
          continue;
        }
        // Skipped at launch (no subscription, consent): its message.skipped is written with it (the launch's transaction).
        const stored = await db.get(`${sql} RETURNING *`, params);
        if (!stored) continue;
        added++;
        await writeMessageEvent(db, stored, now);
      }
      return added;
    },

    async recentRecipients(campaignId: number, profileIds: string[], since: number): Promise<Set<string>> {
      const out = new Set<string>();
      for (const part of chunks(profileIds)) {
        const rows = await db.all<{ profile_id: string }>(
          `SELECT DISTINCT profile_id FROM messages WHERE profile_id IN (${placeholders(part.length)}) AND campaign_id = ?
           AND created_at >= ? AND status IN ('queued', 'waiting', 'sending', 'sent', 'captured', 'delivered', 'undelivered')`,
          [...part, campaignId, since],
        );
        for (const r of rows) out.add(r.profile_id);
      }
      return out;
    },

    async promoteWaiting(now: number): Promise<number> {
      return db.run("UPDATE messages SET status = 'queued', updated_at = ? WHERE status = 'waiting' AND next_attempt_at <= ?", [now, now]);
    },

    async requeueExpired(now: number, maxAttempts: number): Promise<{ requeued: number; failed: number }> {
      const expired = await db.all<HeldRow>(REQUEUE_EXPIRED, [now]);
      return returnToQueue(expired, now, maxAttempts, (w) => `lease expired: the worker sending it (${w ?? 'unknown'}) stopped before recording an outcome`, true);
    },

    async handBackMessages(worker: string, ids: number[], now: number, maxAttempts: number, why: string): Promise<{ requeued: number; failed: number }> {
      const held: HeldRow[] = [];
      for (const part of chunks(ids)) {
        held.push(...(await db.all<HeldRow>(`SELECT id, attempts, worker, history FROM messages WHERE id IN (${placeholders(part.length)}) AND worker = ? AND status = 'sending'`, [...part, worker])));
      }
      return returnToQueue(held, now, maxAttempts, () => why, false);
    },

    async renewLeases(worker: string, ids: number[], leaseUntil: number, now: number): Promise<Set<number>> {
      const held = new Set<number>();
      for (const part of chunks(ids)) {
        const rows = await db.all<{ id: number }>(
          `UPDATE messages SET lease_until = ?, updated_at = ? WHERE id IN (${placeholders(part.length)}) AND worker = ? AND status = 'sending' RETURNING id`,
          [leaseUntil, now, ...part, worker],
        );
        for (const r of rows) held.add(r.id);
      }
      return held;
    },

    async claimMessages(worker: string, limit: number, now: number, leaseUntil: number): Promise<Message[]> {
      const rows = await db.all(
        `UPDATE messages SET status = 'sending', worker = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
         WHERE id IN (SELECT id FROM messages WHERE status = 'queued' ORDER BY priority DESC, id LIMIT ? ${skipLocked})
         RETURNING *`,
        [worker, leaseUntil, now, limit],
      );
      return rows.map(toMessage).sort((a, b) => b.priority - a.priority || a.id - b.id);
    },

    async launchesToSend(ids: number[]): Promise<LaunchToSend[]> {
      const out: LaunchToSend[] = [];
      for (const part of chunks([...new Set(ids)])) {
        const rows = await db.all(
          `SELECT l.*, CASE WHEN EXISTS (SELECT 1 FROM launch_attachments a WHERE a.launch_id = l.id) THEN 1 ELSE 0 END AS has_attachments
           FROM launches l WHERE l.id IN (${placeholders(part.length)})`,
          part,
        );
        for (const r of rows) out.push({ launch: toLaunch(r), attachments: Number(r.has_attachments) === 1 });
      }
      return out;
    },

    async releaseMessages(worker: string, ids: number[]): Promise<void> {
      for (const part of chunks(ids)) {
        await db.run(
          `UPDATE messages SET status = 'queued', worker = NULL, lease_until = NULL, attempts = attempts - 1
           WHERE id IN (${placeholders(part.length)}) AND worker = ? AND status = 'sending'`,
          [...part, worker],
        );
      }
    },

    async holdMessage(worker: string, id: number, until: number, slot: number | null, history: HistoryEntry[], now: number): Promise<boolean> {
      const changed = await db.run(
        `UPDATE messages SET status = 'waiting', worker = NULL, lease_until = NULL, attempts = attempts - 1, next_attempt_at = ?, send_slot_at = CAST(? AS DOUBLE PRECISION),
         history = ?, updated_at = ? WHERE id = ? AND worker = ? AND status = 'sending'`,
        [Math.floor(until), slot, JSON.stringify(history), now, id, worker],
      );
      return changed > 0;
    },

    async completeMessage(id: number, worker: string, o: Outcome, now: number): Promise<boolean> {
      return (await recordOutcomes(db, worker, [{ id, outcome: o }], now)).has(id);
    },

    completeMessages: (worker: string, records: OutcomeRecord[], now: number) => recordOutcomes(db, worker, records, now, webhooksHint),

    async abortQueued(campaignId: number, now: number): Promise<number> {
      const rows = await db.all(
        `UPDATE messages SET status = 'failed', last_error = 'aborted: campaign deactivated with abort_if_running', updated_at = ?
         WHERE campaign_id = ? AND status IN ('queued', 'waiting') RETURNING ${EVENT_COLUMNS}`,
        [now, campaignId],
      );
      if (rows.length && (await anyWebhooks(db))) for (const row of rows) await writeMessageEvent(db, row, now);
      return rows.length;
    },

    async getMessage(id: number): Promise<Message | null> {
      const r = await db.get('SELECT * FROM messages WHERE id = ?', [id]);
      return r ? toMessage(r) : null;
    },

    async listMessages(f: MessageFilter, beforeId: number | null, limit: number): Promise<Message[]> {
      const where: string[] = [];
      const params: (string | number)[] = [];
      for (const key of ['campaign_id', 'launch_id', 'profile_id', 'status', 'channel', 'provider_message_id'] as const) {
        if (f[key] === undefined) continue;
        where.push(`${key} = ?`);
        params.push(f[key]!);
      }
      // One expression for both (a phone has no case): the messages_address index on lower(address).
      for (const [key, channel] of [['email', 'email'], ['phone', 'sms']] as const) {
        if (f[key] === undefined) continue;
        where.push('lower(address) = lower(?) AND channel = ?');
        params.push(f[key]!, channel);
      }
      if (beforeId !== null) {
        where.push('id < ?');
        params.push(beforeId);
      }
      const rows = await db.all(`SELECT * FROM messages ${where.length ? 'WHERE ' + where.join(' AND ') : ''} ORDER BY id DESC LIMIT ?`, [...params, limit]);
      return rows.map(toMessage);
    },

    /** Messages made since `since`, by channel and status as they are now; `recent` counts those made since `recentSince` (one pass over the messages_created index). */
    async countMessagesSince(since: number, recentSince: number): Promise<{ channel: string; status: string; n: number; recent: number }[]> {
      const rows = await db.all<{ channel: string; status: string; n: number; recent: number }>(
        `SELECT channel, status, COUNT(*) AS n, SUM(CASE WHEN created_at >= ? THEN 1 ELSE 0 END) AS recent
         FROM messages WHERE created_at >= ? GROUP BY channel, status`,
        [recentSince, since],
      );
      return rows.map((r) => ({ channel: r.channel, status: r.status, n: Number(r.n), recent: Number(r.recent) }));
    },

    async countMessagesByStatus(launchId: number): Promise<Record<string, number>> {
      const rows = await db.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM messages WHERE launch_id = ? GROUP BY status', [launchId]);
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },


    async countMessagesByVariant(campaignId: number, launchId: number | null): Promise<VariantCount[]> {
      const rows = await db.all<VariantCount>(
        `SELECT variant, template_id, status, COUNT(*) AS n FROM messages WHERE campaign_id = ? ${launchId === null ? '' : 'AND launch_id = ?'}
         GROUP BY variant, template_id, status ORDER BY variant, template_id, status`,
        launchId === null ? [campaignId] : [campaignId, launchId],
      );
      return rows.map((r) => ({ variant: r.variant ?? null, template_id: r.template_id ?? null, status: r.status, n: Number(r.n) }));
    },

    async redriveFailed(f: RedriveFilter, entry: HistoryEntry, limit: number): Promise<{ queued: number; more: boolean }> {
      const item = JSON.stringify(entry);
      const set = `status = 'queued', attempts = 0, next_attempt_at = ?, worker = NULL, lease_until = NULL, updated_at = ?,
        history = CASE WHEN history = '[]' THEN '[' || ? || ']' ELSE substr(history, 1, length(history) - 1) || ',' || ? || ']' END`;
      const setParams = [entry.time, entry.time, item, item];
      return db.transaction(async (tx) => {
        const where: string[] = ["status = 'failed'"];
        const params: (number | string)[] = [];
        for (const key of ['launch_id', 'campaign_id'] as const) {
          if (f[key] === undefined) continue;
          where.push(`${key} = ?`);
          params.push(f[key]);
        }
        let queued = 0;
        if (f.ids) {
          for (const part of chunks([...new Set(f.ids)].slice(0, limit))) {
            queued += await tx.run(`UPDATE messages SET ${set} WHERE id IN (${placeholders(part.length)}) AND ${where.join(' AND ')}`, [...setParams, ...part, ...params]);
          }
          return { queued, more: new Set(f.ids).size > limit };
        }
        queued = await tx.run(
          `UPDATE messages SET ${set} WHERE id IN (SELECT id FROM messages WHERE ${where.join(' AND ')} ORDER BY id LIMIT ?) AND status = 'failed'`,
          [...setParams, ...params, limit],
        );
        const rest = await tx.get(`SELECT 1 AS one FROM messages WHERE ${where.join(' AND ')} LIMIT 1`, params);
        return { queued, more: rest !== undefined };
      });
    },

    async cancelQueued(ids: number[], entry: HistoryEntry): Promise<number[]> {
      const item = JSON.stringify(entry);
      return db.transaction(async (tx) => {
        const cancelled: number[] = [];
        for (const part of chunks([...new Set(ids)])) {
          const rows = await tx.all(
            `UPDATE messages SET status = 'failed', last_error = ?, updated_at = ?, next_attempt_at = ?,
               history = CASE WHEN history = '[]' THEN '[' || ? || ']' ELSE substr(history, 1, length(history) - 1) || ',' || ? || ']' END
             WHERE id IN (${placeholders(part.length)}) AND status IN ('queued', 'waiting') RETURNING ${EVENT_COLUMNS}`,
            [entry.detail ?? 'cancelled', entry.time, entry.time, item, item, ...part],
          );
          if (rows.length && (await anyWebhooks(tx))) for (const row of rows) await writeMessageEvent(tx, row, entry.time);
          for (const row of rows) cancelled.push(Number(row.id));
        }
        return cancelled;
      });
    },

    async queueStats(): Promise<QueueStats> {
      const rows = await db.all<{ status: 'queued' | 'waiting' | 'sending'; n: number; oldest: number | null }>(
        `SELECT 'queued' AS status, COUNT(*) AS n, MIN(next_attempt_at) AS oldest FROM messages WHERE status = 'queued'
         UNION ALL SELECT 'waiting', COUNT(*), NULL FROM messages WHERE status = 'waiting'
         UNION ALL SELECT 'sending', COUNT(*), NULL FROM messages WHERE status = 'sending'`,
      );
      const depth = { queued: 0, waiting: 0, sending: 0 };
      let oldestDueAt: number | null = null;
      for (const r of rows) {
        depth[r.status] = Number(r.n);
        if (r.status === 'queued' && r.oldest !== null) oldestDueAt = Number(r.oldest);
      }
      return { depth, oldestDueAt };
    },
  };
}
