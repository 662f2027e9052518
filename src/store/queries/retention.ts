/**
 * The retention purge's SQL: rows older than a time removed (or a message's rendered text emptied), a
 * bounded batch per call, oldest first, each found through an index on its time column (migration 013/014).
 * Messages still queued, waiting or sending are never touched, nor webhook deliveries still queued or sending.
 */
import { PURGE_LOCK } from '../advisory-locks.ts';
import { placeholders, type SqlDriver } from '../driver.ts';

/** What the purge removes, each kind on its own (engine/retention.ts maps each to its setting). */
export const PURGE_KINDS = ['bodies', 'messages', 'outbox', 'webhook_deliveries', 'launches', 'campaign_log', 'deleted_campaigns', 'attachment_files'] as const;
export type PurgeKind = (typeof PURGE_KINDS)[number];

/** The retention purge. */
export interface RetentionStore {
  /**
   * This transaction's turn at purging: on PostgreSQL a transaction-level advisory lock, false while another
   * process's purge batch holds it; on SQLite (one writer at a time anyway) always true.
   */
  takePurgeTurn(): Promise<boolean>;
  /**
   * Purges up to `limit` rows of `kind` older than `before` (ms since the epoch); answers how many. Run it in a
   * transaction. `attachment_files`: part of one file no launch names (see purgeAttachmentFile); 0 when none is left.
   */
  purge(kind: PurgeKind, before: number, limit: number): Promise<number>;
}

const OPEN = "('queued', 'waiting', 'sending')";

/** The purges that are one statement: a batch of ids chosen by the time index, then changed or deleted. */
const SINGLE: Partial<Record<PurgeKind, string>> = {
  bodies: `UPDATE messages SET subject = NULL, body = NULL, sent_copy = NULL WHERE id IN (
             SELECT id FROM messages WHERE (subject IS NOT NULL OR body IS NOT NULL) AND created_at < ? AND status NOT IN ${OPEN} ORDER BY created_at LIMIT ?)`,
  outbox: 'DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE created_at < ? ORDER BY created_at LIMIT ?)',
  webhook_deliveries: `DELETE FROM webhook_events WHERE id IN (
             SELECT id FROM webhook_events WHERE status IN ('delivered', 'failed') AND created_at < ? ORDER BY created_at LIMIT ?)`,
  campaign_log: 'DELETE FROM campaign_log WHERE id IN (SELECT id FROM campaign_log WHERE time < ? ORDER BY time LIMIT ?)',
};

/** The purges whose rows others reference: the ids first, then the referencing rows, then the rows. */
const BY_IDS: Partial<Record<PurgeKind, { pick: string; children: string[]; table: string }>> = {
  messages: {
    pick: `SELECT id FROM messages WHERE created_at < ? AND status NOT IN ${OPEN} ORDER BY created_at LIMIT ?`,
    children: ['DELETE FROM sms_parts WHERE message_id IN', 'DELETE FROM email_feedback WHERE message_id IN'],
    table: 'messages',
  },
  // A launch goes once its last message has; never while it expands or a batch task of it is open.
  launches: {
    pick: `SELECT id FROM launches l WHERE created_at < ? AND state <> 'expanding'
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.launch_id = l.id)
             AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.launch_id = l.id AND t.state IN ('queued', 'running'))
           ORDER BY created_at LIMIT ?`,
    children: ['DELETE FROM launch_attachments WHERE launch_id IN', 'DELETE FROM tasks WHERE launch_id IN'],
    table: 'launches',
  },
  // A deleted campaign's tombstone goes with the last of its launches, and its log with it.
  deleted_campaigns: {
    pick: `SELECT id FROM campaigns c WHERE deleted_at < ? AND NOT EXISTS (SELECT 1 FROM launches l WHERE l.campaign_id = c.id) ORDER BY id LIMIT ?`,
    children: ['DELETE FROM campaign_log WHERE campaign_id IN'],
    table: 'campaigns',
  },
};

/**
 * A chunk of an attachment file (256 KB) counts as this many rows of a batch: rows are a few hundred bytes,
 * and the batch's size is what keeps one statement under its time (engine/retention.ts).
 */
const ROWS_PER_CHUNK = 16;

/**
 * An attachment file no launch names and unused since `before`, a few chunks at a time: its chunks, then,
 * once it has none, its row. Answers the chunks and rows deleted, 0 when there is no such file. On
 * PostgreSQL the file's row is locked first (a launch naming it right now holds it and is skipped), and
 * whether a launch names it is read again after the lock, by a statement of its own, so that a launch that
 * committed meanwhile is seen.
 */
async function purgeAttachmentFile(db: SqlDriver, before: number, limit: number): Promise<number> {
  const lock = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
  const file = await db.get<{ sha256: string }>(
    `SELECT sha256 FROM attachment_files f WHERE used_at < ? AND NOT EXISTS (SELECT 1 FROM launch_attachments a WHERE a.sha256 = f.sha256) ORDER BY used_at LIMIT 1 ${lock}`,
    [before],
  );
  if (!file || (await db.get('SELECT 1 AS named FROM launch_attachments WHERE sha256 = ? LIMIT 1', [file.sha256]))) return 0;
  const chunks = Math.max(1, Math.floor(limit / ROWS_PER_CHUNK));
  const deleted = await db.run('DELETE FROM attachment_chunks WHERE sha256 = ? AND seq IN (SELECT seq FROM attachment_chunks WHERE sha256 = ? ORDER BY seq LIMIT ?)', [
    file.sha256,
    file.sha256,
    chunks,
  ]);
  return deleted + (deleted < chunks ? await db.run('DELETE FROM attachment_files WHERE sha256 = ?', [file.sha256]) : 0);
}

export function retentionQueries(db: SqlDriver): RetentionStore {
  return {
    async takePurgeTurn(): Promise<boolean> {
      if (db.dialect === 'sqlite') return true;
      const r = await db.get<{ got: boolean }>(`SELECT pg_try_advisory_xact_lock(${PURGE_LOCK}) AS got`);
      return r!.got === true;
    },
    async purge(kind: PurgeKind, before: number, limit: number): Promise<number> {
      if (kind === 'attachment_files') return purgeAttachmentFile(db, before, limit);
      const single = SINGLE[kind];
      if (single) return db.run(single, [before, limit]);
      const { pick, children, table } = BY_IDS[kind]!;
      const ids = (await db.all<{ id: number }>(pick, [before, limit])).map((r) => Number(r.id));
      if (ids.length === 0) return 0;
      const list = `(${placeholders(ids.length)})`;
      for (const child of children) await db.run(`${child} ${list}`, ids);
      return db.run(`DELETE FROM ${table} WHERE id IN ${list}`, ids);
    },
  };
}
