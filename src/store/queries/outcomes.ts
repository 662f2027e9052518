/**
 * Delivery outcomes, recorded many at a time: the dispatcher gathers the outcomes that finish while a
 * write is on its way and records them together. Each message is still its own record: it changes
 * only if it is still the worker's (a retaken message is left alone), and its message.* event and SMS
 * parts commit with it.
 *
 * On PostgreSQL that is one statement for the whole batch when no webhook endpoint is enabled (the
 * check is part of the statement), else one transaction: the update and the endpoints read together
 * (pipelined), one insert of the events, one of the SMS parts. On SQLite (in-process: no round trip
 * to save) one transaction of prepared single-row updates.
 */
import type { Outcome } from '../../core/outcome.ts';
import { insertRows, type Row, type SqlDriver } from '../driver.ts';
import { enabledWebhooks, writeMessageEvents } from './webhooks.ts';

/** What a message.* event reads of the row that changed (store/queries/webhooks.ts writeMessageEvents). */
export const EVENT_COLUMNS = 'id, launch_id, campaign_id, profile_id, channel, address, status, last_error, skip_reason, custom_data';

/** An attempt's outcome for one message. */
export interface OutcomeRecord {
  id: number;
  outcome: Outcome;
}

/** The values an outcome writes, by column (sent_at: now when sent or captured; the COALESCEd ones keep the row's value when null). */
const outcomeValues = (r: OutcomeRecord, now: number) => ({
  id: r.id,
  status: r.outcome.status,
  history: JSON.stringify(r.outcome.history),
  next_attempt_at: r.outcome.next_attempt_at ?? null,
  last_error: r.outcome.last_error ?? null,
  skip_reason: r.outcome.skip_reason ?? null,
  subject: r.outcome.subject ?? null,
  body: r.outcome.body ?? null,
  sent_copy: r.outcome.sent_copy ? JSON.stringify(r.outcome.sent_copy) : null,
  sent_at: r.outcome.status === 'sent' || r.outcome.status === 'captured' ? now : null,
  provider_message_id: r.outcome.provider_message_id ?? null,
});

/** The SET of an outcome; `value` names where each column's new value comes from. */
const SET = (value: (column: string) => string) => `status = ${value('status')}, history = ${value('history')},
  next_attempt_at = COALESCE(${value('next_attempt_at')}, m.next_attempt_at), last_error = ${value('last_error')},
  skip_reason = COALESCE(${value('skip_reason')}, m.skip_reason), subject = COALESCE(${value('subject')}, m.subject), body = COALESCE(${value('body')}, m.body),
  sent_copy = COALESCE(${value('sent_copy')}, m.sent_copy),
  sent_at = ${value('sent_at')}, provider_message_id = COALESCE(${value('provider_message_id')}, m.provider_message_id), worker = NULL, lease_until = NULL, updated_at = ?`;

/** The batch's ids as a PostgreSQL array literal (ids are integers). */
const idArray = (records: OutcomeRecord[]) => `{${records.map((r) => r.id).join(',')}}`;

/** The batch as a row source on PostgreSQL: one JSON parameter, typed by the column list. */
const PG_VALUES = `json_to_recordset(CAST(? AS TEXT)::json) AS v(id bigint, status text, history text, next_attempt_at bigint, last_error text,
  skip_reason text, subject text, body text, sent_copy text, sent_at bigint, provider_message_id text)`;

/**
 * The rows are found by primary key (`m.id = ANY(ids)`), and `status` is tested in a form no partial
 * index's predicate follows from. Written as `m.status = 'sending'`, the planner took the partial
 * index messages_sending and a hash join instead: that index keeps an entry for every version a claim
 * wrote until vacuum, and a bitmap scan never marks them dead, so each outcome visited hundreds of dead
 * rows (99 of its 141 buffers a batch in bench/pg-drain.ts; docs/performance-log.md, 2026-12-08 drain).
 * On text, `>= x AND <= x` is `= x` (ties are broken bytewise).
 */
const PG_UPDATE = `UPDATE messages m SET ${SET((c) => `v.${c}`)} FROM ${PG_VALUES}
  WHERE m.id = v.id AND m.id = ANY(CAST(? AS BIGINT[])) AND m.worker = ? AND m.status BETWEEN 'sending' AND 'sending'`;

/** The same statement, run only when no endpoint is enabled; answers whether one is, and the ids it changed. */
const PG_UPDATE_UNLESS_HOOKS = `WITH hooks AS (SELECT EXISTS (SELECT 1 FROM webhooks WHERE disabled_at IS NULL) AS enabled),
  done AS (${PG_UPDATE} AND NOT (SELECT enabled FROM hooks) RETURNING m.id)
  SELECT NULL AS id, enabled AS hooks FROM hooks UNION ALL SELECT id, NULL FROM done`;

const PG_RETURNING = `${EVENT_COLUMNS.split(', ').map((c) => `m.${c}`).join(', ')}, (SELECT l.custom_data FROM launches l WHERE l.id = m.launch_id) AS launch_custom_data`;

const SQLITE_UPDATE = `UPDATE messages AS m SET ${SET(() => '?')} WHERE id = ? AND worker = ? AND status = 'sending' RETURNING ${EVENT_COLUMNS}`;

const SMS_PART_COLUMNS = ['provider_message_id', 'message_id', 'part', 'parts', 'state', 'smsc'] as const;

/**
 * Whether webhook endpoints were enabled at the last write: only which way to try first (the one
 * statement, or the transaction that writes events). Each way checks for itself, so a stale hint costs
 * a round trip, never an event.
 */
export interface WebhooksHint {
  enabled: boolean;
}

/** Sets the outcomes of the messages still held by `worker`; answers their rows (EVENT_COLUMNS). */
async function update(db: SqlDriver, worker: string, records: OutcomeRecord[], now: number): Promise<Row[]> {
  if (db.dialect === 'postgres') {
    const values = JSON.stringify(records.map((r) => outcomeValues(r, now)));
    // The launch's custom_data with each row (a primary-key lookup): events of messages without their own need it, and reading it after would be another round trip.
    return db.all(`${PG_UPDATE} RETURNING ${PG_RETURNING}`, [now, values, idArray(records), worker]);
  }
  const rows: Row[] = [];
  for (const r of records) {
    const v = outcomeValues(r, now);
    const row = await db.get(SQLITE_UPDATE, [v.status, v.history, v.next_attempt_at, v.last_error, v.skip_reason, v.subject, v.body, v.sent_copy, v.sent_at, v.provider_message_id, now, r.id, worker]);
    if (row) rows.push(row);
  }
  return rows;
}

/**
 * Records each outcome if its message is still `worker`'s; answers the ids recorded. A final outcome
 * commits with its message.* event, a sent SMS with its parts (what receipts are matched by).
 */
export async function recordOutcomes(db: SqlDriver, worker: string, records: OutcomeRecord[], now: number, hint?: WebhooksHint): Promise<Set<number>> {
  if (records.length === 0) return new Set();
  if (db.dialect === 'postgres' && !hint?.enabled && !records.some((r) => r.outcome.sms_parts?.length)) {
    const rows = await db.all<{ id: number | null; hooks: boolean | null }>(PG_UPDATE_UNLESS_HOOKS, [now, JSON.stringify(records.map((r) => outcomeValues(r, now))), idArray(records), worker]);
    const enabled = rows.some((r) => r.hooks);
    if (hint) hint.enabled = enabled;
    if (!enabled) return new Set(rows.filter((r) => r.id !== null).map((r) => Number(r.id)));
  }
  return db.transaction(async (tx) => {
    const [rows, hooks] = await Promise.all([update(tx, worker, records, now), enabledWebhooks(tx)]);
    if (hint) hint.enabled = hooks.length > 0;
    const outcomes = new Map(records.map((r) => [r.id, r.outcome]));
    const outcomeOf = (row: Row) => outcomes.get(Number(row.id))!;
    // A final outcome and its message.* event commit together (the webhooks' transactional outbox).
    const final = rows.filter((row) => outcomeOf(row).status !== 'waiting');
    await writeMessageEvents(tx, final.map((row) => ({ row, bounced: outcomeOf(row).bounced })), hooks, now);
    const parts = rows.flatMap((row) => {
      const { sms_parts: ids = [], sms_smsc: smsc = null } = outcomeOf(row);
      return ids.map((id, i) => ({ provider_message_id: id, message_id: Number(row.id), part: i + 1, parts: ids.length, state: null, smsc }));
    });
    await insertRows(tx, 'sms_parts', SMS_PART_COLUMNS, parts, 'ON CONFLICT (provider_message_id, message_id) DO NOTHING');
    return new Set(rows.map((row) => Number(row.id)));
  });
}
