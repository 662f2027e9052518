/** The outbox: messages captured rather than sent (no transport configured), newest first. */
import { insertRows, type Row, type SqlDriver } from '../driver.ts';
import { json } from './rows.ts';

export interface OutboxEntry {
  id: number;
  message_id: number;
  channel: string;
  recipient: string;
  sender: string | null;
  subject: string | null;
  body: string | null;
  html: string | null;
  extra: Record<string, unknown>;
  raw: string | null;
  created_at: number;
}

export type NewOutboxEntry = Omit<OutboxEntry, 'id' | 'created_at'>;

const OUTBOX_COLUMNS = ['message_id', 'channel', 'recipient', 'sender', 'subject', 'body', 'html', 'extra', 'raw', 'created_at'] as const;

const toOutboxEntry = (r: Row): OutboxEntry => ({ ...(r as unknown as OutboxEntry), extra: json(r.extra) });

/** The outbox: messages captured instead of sent. */
export interface OutboxStore {
  /** Captures messages (one statement for many on PostgreSQL); answers how many. */
  insertOutboxEntries(entries: NewOutboxEntry[], now: number): Promise<number>;
  /** Newest first. */
  listOutbox(f: { recipient?: string; channel?: string; message_id?: number }, beforeId: number | null, limit: number): Promise<OutboxEntry[]>;
  getOutbox(id: number): Promise<OutboxEntry | null>;
}

export function outboxQueries(db: SqlDriver): OutboxStore {
  return {
    async insertOutboxEntries(entries: NewOutboxEntry[], now: number): Promise<number> {
      const write = (d: SqlDriver) => insertRows(d, 'outbox', OUTBOX_COLUMNS, entries.map((e) => ({ ...e, extra: JSON.stringify(e.extra), created_at: now })));
      // PostgreSQL: one statement. SQLite may write row by row, and each write on its own would be a commit of its own.
      return db.dialect === 'postgres' ? write(db) : db.transaction(write);
    },
    async listOutbox(f: { recipient?: string; channel?: string; message_id?: number }, beforeId: number | null, limit: number): Promise<OutboxEntry[]> {
      const rows = await db.all(
        `SELECT * FROM outbox WHERE (CAST(? AS TEXT) IS NULL OR recipient = ?) AND (CAST(? AS TEXT) IS NULL OR channel = ?)
         AND (CAST(? AS BIGINT) IS NULL OR message_id = ?) AND (CAST(? AS BIGINT) IS NULL OR id < ?) ORDER BY id DESC LIMIT ?`,
        [f.recipient ?? null, f.recipient ?? null, f.channel ?? null, f.channel ?? null, f.message_id ?? null, f.message_id ?? null, beforeId, beforeId, limit],
      );
      return rows.map(toOutboxEntry);
    },
    async getOutbox(id: number): Promise<OutboxEntry | null> {
      const r = await db.get('SELECT * FROM outbox WHERE id = ?', [id]);
      return r ? toOutboxEntry(r) : null;
    },
  };
}
