/**
 * Webhook endpoints and their deliveries (webhook_events: one row per event per matching endpoint).
 * Events are written by the query that makes the state change they report, in its transaction
 * (writeEvent, called from messages.ts and tasks.ts, and finishLaunches here), so an event is never
 * lost nor reported for a change that rolled back.
 */
import { eventBody, messageEventData, messageEventType, webhookTakes, type MessageFacts, type WebhookEventType, type WebhookTarget } from '../../core/webhooks.ts';
import { randomHex } from '../../core/ids.ts';
import { chunks, insertRows, placeholders, type Row, type SqlDriver } from '../driver.ts';
import { appendJsonItem, json } from './rows.ts';

export interface Webhook {
  id: number;
  url: string;
  events: string[];
  campaign_ids: number[] | null;
  secret: string;
  disabled_at: number | null;
  disabled_reason: string | null;
  failing_since: number | null;
  created_at: number;
  updated_at: number;
}

export type WebhookInput = Pick<Webhook, 'url' | 'events' | 'campaign_ids' | 'secret'>;

export type DeliveryStatus = 'queued' | 'sending' | 'delivered' | 'failed';

export interface WebhookAttempt {
  time: number;
  status_code: number | null;
  error: string | null;
  ms: number;
}

export interface WebhookDelivery {
  id: number;
  webhook_id: number;
  event_id: string;
  type: string;
  launch_id: number | null;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  history: WebhookAttempt[];
  next_attempt_at: number;
  last_status_code: number | null;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

/** A claimed delivery with what posting it needs. */
export interface ClaimedDelivery extends WebhookDelivery {
  url: string;
  secret: string;
}

/** How an attempt ended: delivered, queued again at next_attempt_at, or failed for good. */
export interface AttemptResult {
  status: 'delivered' | 'queued' | 'failed';
  attempt: WebhookAttempt;
  next_attempt_at?: number;
}

const toWebhook = (r: Row): Webhook => ({
  id: r.id as number,
  url: r.url as string,
  events: json(r.events),
  campaign_ids: json(r.campaign_ids),
  secret: r.secret as string,
  disabled_at: (r.disabled_at as number | null) ?? null,
  disabled_reason: (r.disabled_reason as string | null) ?? null,
  failing_since: (r.failing_since as number | null) ?? null,
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
});

const toDelivery = (r: Row): WebhookDelivery => ({
  id: Number(r.id),
  webhook_id: r.webhook_id as number,
  event_id: r.event_id as string,
  type: r.type as string,
  launch_id: r.launch_id === null || r.launch_id === undefined ? null : Number(r.launch_id),
  payload: r.payload as string,
  status: r.status as DeliveryStatus,
  attempts: r.attempts as number,
  history: json(r.history),
  next_attempt_at: Number(r.next_attempt_at),
  last_status_code: (r.last_status_code as number | null) ?? null,
  last_error: (r.last_error as string | null) ?? null,
  created_at: Number(r.created_at),
  updated_at: Number(r.updated_at),
});

/** Webhook endpoints, their deliveries as a queue, and the launch.done sweep. */
export interface WebhookStore {
  insertWebhook(w: WebhookInput, now: number): Promise<Webhook>;
  getWebhook(id: number): Promise<Webhook | null>;
  listWebhooks(): Promise<Webhook[]>;
  /** Changes the given fields; `enabled: true` clears disabled_at and failing_since. Answers the row, or null when absent. */
  updateWebhook(id: number, change: Partial<WebhookInput> & { enabled?: boolean }, now: number): Promise<Webhook | null>;
  /** Deletes the endpoint and its deliveries; answers whether it existed. */
  deleteWebhook(id: number): Promise<boolean>;
  /** Takes up to `limit` due deliveries for `worker` until `leaseUntil`; a launch.done waits for its launch's message events on that endpoint. */
  claimWebhookEvents(worker: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]>;
  /**
   * Records an attempt if the delivery is still this worker's, and the endpoint's health: a success
   * clears failing_since, a failure sets it if unset. Answers the endpoint's failing_since after it (undefined if not recorded).
   */
  recordWebhookAttempt(id: number, worker: string, r: AttemptResult, now: number): Promise<{ failingSince: number | null } | undefined>;
  /** recordWebhookAttempt for many deliveries at once (on PostgreSQL the successes in one statement); answers by delivery id those recorded. */
  recordWebhookAttempts(worker: string, attempts: { id: number; result: AttemptResult }[], now: number): Promise<Map<number, { failingSince: number | null }>>;
  /** Deliveries whose worker's lease ran out are queued again (at once: the attempt counted stays counted). */
  requeueExpiredWebhookEvents(now: number): Promise<number>;
  /** Disables an endpoint that has kept failing, and fails its queued deliveries; false when it was already disabled. */
  disableWebhook(id: number, reason: string, now: number): Promise<boolean>;
  /** A delivery's page, newest first. */
  listWebhookEvents(webhookId: number, status: DeliveryStatus | undefined, beforeId: number | null, limit: number): Promise<WebhookDelivery[]>;
  /** webhooks/redeliver: failed (or, by ids, delivered) deliveries are queued again now; answers how many. */
  redeliverWebhookEvents(webhookId: number, ids: number[] | null, now: number): Promise<number>;
  /**
   * Marks done (done_at, once) launches whose expansion and tasks ended and whose messages all ended,
   * at most `limit`, writing their launch.done events in the same transaction. It looks at the open
   * launches after `after` in id order, at most `walk` of them (FINISH_WALK), so a sweep's cost stays
   * bounded however many are open; `next` is where the next sweep goes on (0: from the start again).
   */
  finishLaunches(now: number, o: { limit: number; after?: number; walk?: number }): Promise<{ done: number; next: number }>;
}

/** The JSON text a campaign id list is stored as: each id once. */
const idList = (ids: number[] | null) => (ids === null ? null : JSON.stringify([...new Set(ids)]));

/** Enabled endpoints (a small table): read once, they are matched in code against every event a writer makes. */
export async function enabledWebhooks(db: SqlDriver): Promise<WebhookTarget[]> {
  const rows = await db.all<{ id: number; events: string; campaign_ids: string | null }>('SELECT id, events, campaign_ids FROM webhooks WHERE disabled_at IS NULL ORDER BY id');
  return rows.map((r) => ({ id: Number(r.id), events: json<string[]>(r.events) ?? [], campaign_ids: json<number[] | null>(r.campaign_ids) }));
}

const EVENT_ROW_COLUMNS = ['webhook_id', 'event_id', 'type', 'launch_id', 'payload', 'status', 'attempts', 'history', 'next_attempt_at', 'created_at', 'updated_at'] as const;

/** The delivery rows of one event: one per endpoint, the same body, ids that share the event's. */
const eventRows = (hooks: WebhookTarget[], type: WebhookEventType, launchId: number | null, body: string, now: number) => {
  const event = `msg_${randomHex(12)}`;
  return hooks.map((h) => ({ webhook_id: h.id, event_id: `${event}_${h.id}`, type, launch_id: launchId, payload: body, status: 'queued', attempts: 0, history: '[]', next_attempt_at: now, created_at: now, updated_at: now }));
};

/**
 * Writes an event for every endpoint that takes it, inside the caller's statement or transaction.
 * `data` is built only when some endpoint takes the event (it may read more rows). `enabled`: the
 * endpoints as enabledWebhooks read them in the same transaction, when the caller writes many events.
 */
export async function writeEvent(
  db: SqlDriver,
  type: WebhookEventType,
  campaignId: number,
  launchId: number | null,
  data: () => Promise<Record<string, unknown>>,
  now: number,
  enabled?: WebhookTarget[],
): Promise<void> {
  const hooks = (enabled ?? (await enabledWebhooks(db))).filter((h) => webhookTakes(h, type, campaignId));
  if (hooks.length === 0) return;
  await insertRows(db, 'webhook_events', EVENT_ROW_COLUMNS, eventRows(hooks, type, launchId, eventBody(type, now, await data()), now));
}

/** Whether any endpoint is enabled: set-based writers ask once rather than per row. */
export async function anyWebhooks(db: SqlDriver): Promise<boolean> {
  return (await db.get('SELECT 1 AS one FROM webhooks WHERE disabled_at IS NULL LIMIT 1')) !== undefined;
}

/** A message row that reached a final status (the messages columns an event reads), and whether it was a hard bounce. */
export interface MessageChange {
  row: Row;
  bounced?: boolean;
}

/**
 * The message.* events of messages that just reached a final status, for the endpoints `hooks` (as
 * enabledWebhooks read them in the same transaction): one insert for all of them, and one read of the
 * launches' custom_data for messages that carry none of their own.
 */
export async function writeMessageEvents(db: SqlDriver, changes: MessageChange[], hooks: WebhookTarget[], now: number): Promise<void> {
  if (hooks.length === 0) return;
  const events: { m: MessageFacts; own: unknown; type: WebhookEventType; to: WebhookTarget[] }[] = [];
  for (const { row, bounced } of changes) {
    const m = { ...row, id: Number(row.id), launch_id: Number(row.launch_id) } as unknown as MessageFacts & { custom_data: string | null };
    const type = messageEventType(m.status, bounced);
    const to = type ? hooks.filter((h) => webhookTakes(h, type, m.campaign_id)) : [];
    if (type && to.length) events.push({ m, own: json(m.custom_data), type, to });
  }
  if (events.length === 0) return;
  const launchData = new Map<number, unknown>();
  // A row may come with its launch's custom_data (read by the statement that changed it).
  for (const { row } of changes) if ('launch_custom_data' in row) launchData.set(Number(row.launch_id), json(row.launch_custom_data));
  const launchIds = [...new Set(events.filter((e) => e.own == null && !launchData.has(e.m.launch_id)).map((e) => e.m.launch_id))];
  for (const part of chunks(launchIds)) {
    for (const r of await db.all<{ id: number; custom_data: string | null }>(`SELECT id, custom_data FROM launches WHERE id IN (${placeholders(part.length)})`, part)) {
      launchData.set(Number(r.id), json(r.custom_data));
    }
  }
  const rows = events.flatMap((e) => eventRows(e.to, e.type, e.m.launch_id, eventBody(e.type, now, messageEventData(e.m, e.own ?? launchData.get(e.m.launch_id))), now));
  await insertRows(db, 'webhook_events', EVENT_ROW_COLUMNS, rows);
}

/** The message.* event of a message that just reached a final status (a row with the messages columns). */
export async function writeMessageEvent(db: SqlDriver, row: Row, now: number, bounced = false): Promise<void> {
  if (!messageEventType(row.status as string, bounced)) return;
  await writeMessageEvents(db, [{ row, bounced }], await enabledWebhooks(db), now);
}

/** A webhook_events history with one more attempt: spliced in as text (as messages' redrive does), so one statement records it. */
const appendHistory = (item: string) => appendJsonItem('history', item);

/** Open launches one launch.done sweep looks at, at most (store finishLaunches). */
const FINISH_WALK = 2000;

export function webhookQueries(db: SqlDriver): WebhookStore {
  const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';

  async function recordAttempt(db: SqlDriver, id: number, worker: string, r: AttemptResult, now: number): Promise<{ failingSince: number | null } | undefined> {
    const item = JSON.stringify(r.attempt);
    const row = await db.get<{ webhook_id: number }>(
      `UPDATE webhook_events SET status = ?, next_attempt_at = COALESCE(?, next_attempt_at), last_status_code = ?, last_error = ?, history = ${appendHistory('?')},
         worker = NULL, lease_until = NULL, updated_at = ? WHERE id = ? AND worker = ? AND status = 'sending' RETURNING webhook_id`,
      [r.status, r.next_attempt_at ?? null, r.attempt.status_code, r.attempt.error, item, item, now, id, worker],
    );
    if (!row) return undefined;
    // The endpoint's row is written only when its health changes: every post touching it would serialise them on PostgreSQL.
    if (r.status === 'delivered') {
      await db.run('UPDATE webhooks SET failing_since = NULL WHERE id = ? AND failing_since IS NOT NULL', [row.webhook_id]);
      return { failingSince: null };
    }
    await db.run('UPDATE webhooks SET failing_since = ? WHERE id = ? AND failing_since IS NULL', [r.attempt.time, row.webhook_id]);
    const hook = await db.get<{ failing_since: number | null }>('SELECT failing_since FROM webhooks WHERE id = ?', [row.webhook_id]);
    return { failingSince: hook?.failing_since == null ? null : Number(hook.failing_since) };
  }

  return {
    async insertWebhook(w: WebhookInput, now: number): Promise<Webhook> {
      const r = await db.get(
        'INSERT INTO webhooks (url, events, campaign_ids, secret, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *',
        [w.url, JSON.stringify([...new Set(w.events)]), idList(w.campaign_ids), w.secret, now, now],
      );
      return toWebhook(r!);
    },
    async getWebhook(id: number): Promise<Webhook | null> {
      const r = await db.get('SELECT * FROM webhooks WHERE id = ?', [id]);
      return r ? toWebhook(r) : null;
    },
    async listWebhooks(): Promise<Webhook[]> {
      return (await db.all('SELECT * FROM webhooks ORDER BY id')).map(toWebhook);
    },
    async updateWebhook(id: number, c: Partial<WebhookInput> & { enabled?: boolean }, now: number): Promise<Webhook | null> {
      const set: string[] = ['updated_at = ?'];
      const params: (string | number | null)[] = [now];
      if (c.url !== undefined) set.push('url = ?') && params.push(c.url);
      if (c.events !== undefined) set.push('events = ?') && params.push(JSON.stringify([...new Set(c.events)]));
      if (c.campaign_ids !== undefined) set.push('campaign_ids = ?') && params.push(idList(c.campaign_ids));
      if (c.secret !== undefined) set.push('secret = ?') && params.push(c.secret);
      if (c.enabled === true) set.push('disabled_at = NULL, disabled_reason = NULL, failing_since = NULL');
      if (c.enabled === false) set.push("disabled_at = COALESCE(disabled_at, ?), disabled_reason = COALESCE(disabled_reason, 'disabled by webhooks/update')") && params.push(now);
      const r = await db.get(`UPDATE webhooks SET ${set.join(', ')} WHERE id = ? RETURNING *`, [...params, id]);
      return r ? toWebhook(r) : null;
    },
    async deleteWebhook(id: number): Promise<boolean> {
      return db.transaction(async (tx) => {
        await tx.run('DELETE FROM webhook_events WHERE webhook_id = ?', [id]);
        return (await tx.run('DELETE FROM webhooks WHERE id = ?', [id])) === 1;
      });
    },

    async claimWebhookEvents(worker: string, limit: number, now: number, leaseUntil: number): Promise<ClaimedDelivery[]> {
      const claim = `UPDATE webhook_events SET status = 'sending', worker = ?, lease_until = ?, attempts = attempts + 1, updated_at = ?
         WHERE id IN (
           SELECT e.id FROM webhook_events e WHERE e.status = 'queued' AND e.next_attempt_at <= ?
             AND NOT (e.type = 'launch.done' AND EXISTS (
               SELECT 1 FROM webhook_events o WHERE o.webhook_id = e.webhook_id AND o.launch_id = e.launch_id
                 AND o.status IN ('queued', 'sending') AND o.type <> 'launch.done'))
           ORDER BY e.next_attempt_at, e.id LIMIT ? ${skipLocked})
         RETURNING *`;
      const params = [worker, leaseUntil, now, now, limit];
      let rows: Row[];
      if (db.dialect === 'postgres') {
        // The endpoints' url and secret in the same statement: one round trip per claim.
        rows = await db.all(`WITH c AS (${claim}) SELECT c.*, w.url, w.secret FROM c JOIN webhooks w ON w.id = c.webhook_id`, params);
      } else {
        rows = await db.all(claim, params);
        if (rows.length === 0) return [];
        const ids = [...new Set(rows.map((r) => r.webhook_id as number))];
        const hooks = new Map((await db.all(`SELECT id, url, secret FROM webhooks WHERE id IN (${placeholders(ids.length)})`, ids)).map((h) => [h.id as number, h]));
        rows = rows.filter((r) => hooks.has(r.webhook_id as number)).map((r) => ({ ...r, url: hooks.get(r.webhook_id as number)!.url, secret: hooks.get(r.webhook_id as number)!.secret }));
      }
      return rows.map((r) => ({ ...toDelivery(r), url: r.url as string, secret: r.secret as string })).sort((a, b) => a.id - b.id);
    },

    recordWebhookAttempt: (id: number, worker: string, r: AttemptResult, now: number) => recordAttempt(db, id, worker, r, now),

    async recordWebhookAttempts(worker: string, attempts: { id: number; result: AttemptResult }[], now: number) {
      const health = new Map<number, { failingSince: number | null }>();
      let each = attempts;
      if (db.dialect === 'postgres') {
        // Successes, the common case, in one statement: the attempts, and the endpoints' health where it changes.
        const delivered = attempts.filter((a) => a.result.status === 'delivered');
        each = attempts.filter((a) => a.result.status !== 'delivered');
        if (delivered.length) {
          const values = JSON.stringify(delivered.map((a) => ({ id: a.id, status_code: a.result.attempt.status_code, item: JSON.stringify(a.result.attempt) })));
          const rows = await db.all<{ id: number }>(
            `WITH e AS (UPDATE webhook_events e SET status = 'delivered', last_status_code = v.status_code, last_error = NULL, history = ${appendHistory('v.item')},
                 worker = NULL, lease_until = NULL, updated_at = ?
               FROM json_to_recordset(CAST(? AS TEXT)::json) AS v(id bigint, status_code integer, item text)
               WHERE e.id = v.id AND e.worker = ? AND e.status = 'sending' RETURNING e.id, e.webhook_id),
             h AS (UPDATE webhooks SET failing_since = NULL WHERE id IN (SELECT webhook_id FROM e) AND failing_since IS NOT NULL)
             SELECT id FROM e`,
            [now, values, worker],
          );
          for (const r of rows) health.set(Number(r.id), { failingSince: null });
        }
      }
      if (each.length === 0) return health;
      // The rest one by one, in one transaction: on SQLite each write on its own would be a commit of its own.
      await db.transaction(async (tx) => {
        for (const a of each) {
          const h = await recordAttempt(tx, a.id, worker, a.result, now);
          if (h) health.set(a.id, h);
        }
      });
      return health;
    },

    async requeueExpiredWebhookEvents(now: number): Promise<number> {
      return db.run(
        "UPDATE webhook_events SET status = 'queued', worker = NULL, lease_until = NULL, next_attempt_at = ?, updated_at = ? WHERE status = 'sending' AND lease_until < ?",
        [now, now, now],
      );
    },

    async disableWebhook(id: number, reason: string, now: number): Promise<boolean> {
      return db.transaction(async (tx) => {
        const changed = await tx.run('UPDATE webhooks SET disabled_at = ?, disabled_reason = ?, updated_at = ? WHERE id = ? AND disabled_at IS NULL', [now, reason, now, id]);
        if (changed === 0) return false;
        await tx.run("UPDATE webhook_events SET status = 'failed', last_error = ?, updated_at = ? WHERE webhook_id = ? AND status = 'queued'", [
          `not attempted: the endpoint was disabled (${reason})`,
          now,
          id,
        ]);
        return true;
      });
    },

    async listWebhookEvents(webhookId: number, status: DeliveryStatus | undefined, beforeId: number | null, limit: number): Promise<WebhookDelivery[]> {
      const where = ['webhook_id = ?'];
      const params: (number | string)[] = [webhookId];
      if (status !== undefined) where.push('status = ?') && params.push(status);
      if (beforeId !== null) where.push('id < ?') && params.push(beforeId);
      return (await db.all(`SELECT * FROM webhook_events WHERE ${where.join(' AND ')} ORDER BY id DESC LIMIT ?`, [...params, limit])).map(toDelivery);
    },

    async redeliverWebhookEvents(webhookId: number, ids: number[] | null, now: number): Promise<number> {
      const set = "status = 'queued', next_attempt_at = ?, worker = NULL, lease_until = NULL, updated_at = ?";
      if (ids === null) return db.run(`UPDATE webhook_events SET ${set} WHERE webhook_id = ? AND status = 'failed'`, [now, now, webhookId]);
      let queued = 0;
      for (const part of chunks([...new Set(ids)])) {
        queued += await db.run(`UPDATE webhook_events SET ${set} WHERE webhook_id = ? AND id IN (${placeholders(part.length)}) AND status IN ('failed', 'delivered')`, [
          now,
          now,
          webhookId,
          ...part,
        ]);
      }
      return queued;
    },

    async finishLaunches(now: number, o: { limit: number; after?: number; walk?: number }): Promise<{ done: number; next: number }> {
      const { limit, after = 0, walk = FINISH_WALK } = o;
      return db.transaction(async (tx) => {
        // The open launches this sweep looks at. Each is a probe of the open messages; walking all of them every
        // SALVO_POLL_MS cost a PostgreSQL backend 8,000-9,000 buffers a sweep with 3,000 triggers queued (and grows
        // with the backlog); bounded, a large backlog is looked over in turns.
        const range = await tx.get<{ first: number | null; last: number | null; n: number }>(
          `SELECT MIN(id) AS first, MAX(id) AS last, COUNT(*) AS n FROM (SELECT id FROM launches WHERE done_at IS NULL AND id > ? ORDER BY id LIMIT ?) w`,
          [after, walk],
        );
        if (!range || range.first === null || range.last === null) return { done: 0, next: 0 };
        const finished = `SELECT l.id FROM launches l WHERE l.done_at IS NULL AND l.id BETWEEN ? AND ? AND l.state <> 'expanding'
               AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.launch_id = l.id AND m.status IN ('queued', 'waiting', 'sending'))
               AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.launch_id = l.id AND t.state IN ('queued', 'running'))
             ORDER BY l.id LIMIT ? ${skipLocked}`;
        // Only the UPDATE that sets done_at writes launch.done: two workers sweeping at once cannot both set it.
        // On PostgreSQL the ids are gathered once (an InitPlan), then updated by primary key: as `id IN (...)` the
        // planner joined every open launch against the list it found (a nested loop, 100 ms a sweep of 4,000 open
        // launches in bench/pg-drain.ts; docs/performance-log.md, 2026-12-08 drain).
        const done = await tx.all<{ id: number; campaign_id: number; custom_data: string | null; total: number }>(
          `UPDATE launches SET done_at = ? WHERE id ${db.dialect === 'postgres' ? `= ANY(ARRAY(${finished}))` : `IN (${finished})`}
           AND done_at IS NULL RETURNING id, campaign_id, custom_data, total`,
          [now, Number(range.first), Number(range.last), limit],
        );
        // A full batch: the rest of this walk next; else the walk's end, or the start again when it reached the last open launch.
        const next = done.length >= limit ? Math.max(...done.map((l) => Number(l.id))) : Number(range.n) < walk ? 0 : Number(range.last);
        // The endpoints read once for the sweep, not once a launch.
        const enabled = done.length ? await enabledWebhooks(tx) : [];
        for (const l of done) {
          const launchId = Number(l.id);
          await writeEvent(
            tx,
            'launch.done',
            l.campaign_id,
            launchId,
            async () => {
              const counts = await tx.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM messages WHERE launch_id = ? GROUP BY status', [launchId]);
              return { launch_id: launchId, campaign_id: l.campaign_id, total: l.total, counts: Object.fromEntries(counts.map((c) => [c.status, Number(c.n)])), custom_data: json(l.custom_data) };
            },
            now,
            enabled,
          );
        }
        return { done: done.length, next };
      });
    },
  };
}
