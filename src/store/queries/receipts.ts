/**
 * SMPP delivery receipts, recorded many at a time (delivery/sms/receipts.ts gathers them): each is
 * matched by the SMSC that sent it and the part's id at that SMSC, records the part's state and, when
 * the parts together settle the message, moves it from sent to delivered or undelivered. A receipt
 * that repeats the part's state writes nothing; the history is capped (core/history.ts).
 */
import { appendToHistory } from '../../core/history.ts';
import { messageStateOf } from '../../core/sms-receipt.ts';
import type { HistoryEntry, MessageStatus } from '../../core/types.ts';
import type { SqlDriver } from '../driver.ts';
import { EVENT_COLUMNS } from './outcomes.ts';
import { json } from './rows.ts';
import { writeMessageEvent } from './webhooks.ts';

export interface SmsReceiptWrite {
  /** The SMSC the receipt came from (core/sms-receipt.ts smscKey). */
  smsc: string;
  /** The part's id at that SMSC (submit_sm_resp's message_id). */
  providerId: string;
  /** The receipt's stat: DELIVRD, UNDELIV, ... */
  stat: string;
  /** The history entry's text. */
  detail: string;
}

/** What a receipt found: its message and the message's status; `repeated` when the part already had that state (nothing written). */
export interface SmsReceiptHit {
  message_id: number;
  status: MessageStatus;
  repeated: boolean;
}

export interface ReceiptStore {
  /**
   * Records the receipts in order, in one transaction. Answers, for each, what it found, or null when no
   * part of that SMSC has that id (yet: a receipt can overtake the recording of its submit). Parts
   * recorded before receipts were matched by SMSC (smsc null) match by the id alone.
   */
  applySmsReceipts(receipts: SmsReceiptWrite[], now: number): Promise<(SmsReceiptHit | null)[]>;
}

/** The part a receipt names: its own SMSC's first, then one recorded before SMSCs were (smsc null). */
const FIND_PART = `SELECT message_id FROM sms_parts WHERE provider_message_id = ? AND (smsc = ? OR smsc IS NULL)
  ORDER BY CASE WHEN smsc IS NULL THEN 1 ELSE 0 END, message_id DESC LIMIT 1`;

/** A message the batch's receipts reach, read once and written once however many of them name it. */
interface Touched {
  id: number;
  /** Its status before the batch, and now. */
  before: MessageStatus;
  status: MessageStatus;
  history: HistoryEntry[];
  /** Each part's state by its id, in part order; the ids changed by the batch. */
  parts: Map<string, string | null>;
  changedParts: Set<string>;
  /** The detail of the receipt that last changed the status (an undelivered message's last_error). */
  lastDetail: string | null;
}

const RECEIPT_STATUSES = new Set<MessageStatus>(['sent', 'delivered', 'undelivered']);

export function receiptQueries(db: SqlDriver): ReceiptStore {
  return {
    async applySmsReceipts(receipts: SmsReceiptWrite[], now: number): Promise<(SmsReceiptHit | null)[]> {
      if (receipts.length === 0) return [];
      return db.transaction(async (tx) => {
        const partOf = new Map<string, number | null>();
        const touched = new Map<number, Touched>();
        const hits: (SmsReceiptHit | null)[] = [];
        for (const r of receipts) {
          const key = `${r.smsc}\u0000${r.providerId}`;
          if (!partOf.has(key)) partOf.set(key, (await tx.get<{ message_id: number }>(FIND_PART, [r.providerId, r.smsc]))?.message_id ?? null);
          const messageId = partOf.get(key);
          if (messageId == null) {
            hits.push(null);
            continue;
          }
          const id = Number(messageId);
          let m = touched.get(id);
          if (!m) {
            const row = await tx.get<{ status: MessageStatus; history: string }>('SELECT status, history FROM messages WHERE id = ?', [id]);
            const parts = await tx.all<{ provider_message_id: string; state: string | null }>('SELECT provider_message_id, state FROM sms_parts WHERE message_id = ? ORDER BY part', [id]);
            const status = row?.status ?? 'sent';
            m = { id, before: status, status, history: row ? (json<HistoryEntry[]>(row.history) ?? []) : [], parts: new Map(parts.map((p) => [p.provider_message_id, p.state])), changedParts: new Set(), lastDetail: null };
            touched.set(id, m);
          }
          // A receipt that repeats the part's state changes nothing and writes nothing.
          const repeated = m.parts.get(r.providerId) === r.stat;
          if (!repeated) {
            m.parts.set(r.providerId, r.stat);
            m.changedParts.add(r.providerId);
            // Only a message that was sent moves with its receipts (not one failed, re-driven or erased since).
            if (RECEIPT_STATUSES.has(m.before)) {
              m.status = messageStateOf([...m.parts.values()]);
              m.history = appendToHistory(m.history, [{ status: m.status, time: now, detail: r.detail }]);
              m.lastDetail = r.detail;
            }
          }
          hits.push({ message_id: id, status: m.status, repeated });
        }
        for (const m of touched.values()) await writeTouched(tx, m, now);
        return hits;
      });
    },
  };
}

async function writeTouched(tx: SqlDriver, m: Touched, now: number): Promise<void> {
  if (m.changedParts.size === 0) return;
  for (const part of m.changedParts) await tx.run('UPDATE sms_parts SET state = ? WHERE provider_message_id = ? AND message_id = ?', [m.parts.get(part), part, m.id]);
  if (!RECEIPT_STATUSES.has(m.before)) return;
  const row = await tx.get(`UPDATE messages SET status = ?, history = ?, updated_at = ? WHERE id = ? RETURNING ${EVENT_COLUMNS}`, [m.status, JSON.stringify(m.history), now, m.id]);
  // message.delivered (or undelivered) when the receipts settle the message: once per batch at most, however many they are.
  if (row && m.status !== m.before && m.status !== 'sent') await writeMessageEvent(tx, { ...row, last_error: m.status === 'undelivered' ? m.lastDetail : row.last_error }, now);
}
