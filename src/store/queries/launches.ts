/** Launches and their attachments. */
import type { Attachment } from '../../core/attachments.ts';
import { DuplicateRequest } from '../../core/errors.ts';
import type { Launch, LaunchState, NewMessage } from '../../core/types.ts';
import type { Row, SqlDriver } from '../driver.ts';
import { campaignQueries } from './campaigns.ts';
import { MESSAGE_COLUMNS, NEW_MESSAGE_CONFLICT, messageQueries, messageRow } from './messages.ts';
import { json } from './rows.ts';
import { answerDedupFrom, dedupQueries, sealParams, takeoverParams, type DedupSeal } from './dedup.ts';
import { anyWebhooks } from './webhooks.ts';
import { AttachmentFileMissing, attachmentFileQueries, fileHash } from './attachment-files.ts';

/** launch_attachments.data of a row whose bytes are in attachment_files (the column is NOT NULL). */
const NO_BYTES = Buffer.alloc(0);

/** An attachment as lists show it: without its bytes. */
export interface AttachmentInfo {
  name: string;
  mime: string;
  size: number;
  sha256: string | null;
}

export const toLaunch = (r: Row): Launch => ({
  id: r.id as number,
  campaign_id: r.campaign_id as number,
  kind: r.kind as string,
  state: r.state as LaunchState,
  content: json(r.content) ?? {},
  custom_data: json(r.custom_data),
  audience: json(r.audience),
  cursor: (r.cursor as string | null) ?? null,
  total: r.total as number,
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
});

export type NewLaunch = Pick<Launch, 'campaign_id' | 'kind' | 'state' | 'content' | 'custom_data' | 'audience' | 'cursor'>;

/** Launches (one per trigger call, batch or task) and their attachments. */
export interface LaunchStore {
  /** `total`: the messages about to be added with it, when known (one statement fewer than addLaunchTotal). */
  insertLaunch(l: NewLaunch, now: number, total?: number): Promise<Launch>;
  /**
   * A launch whose messages are all known now, with its messages and a campaign-log line
   * `launch <id> <logText>`, all or nothing: one statement on PostgreSQL (one round trip, no BEGIN and
   * COMMIT), a transaction (or savepoint) on SQLite.
   */
  insertLaunchWithMessages(l: NewLaunch, now: number, rows: NewMessage[], log: { level: 'info' | 'warning'; text: string }, seal?: DedupSeal | null): Promise<Launch>;
  getLaunch(id: number): Promise<Launch | null>;
  /** Newest first, of one campaign or all; `beforeId` pages on. */
  listLaunches(campaignId: number | null, beforeId: number | null, limit: number): Promise<Launch[]>;
  /**
   * Moves an expanding launch on from `from` to `to` (and to `state`), adding `made` messages to its
   * total; false when another expander moved it first, so the caller's transaction rolls back.
   */
  advanceLaunch(id: number, from: string | null, to: string | null, state: LaunchState, made: number, now: number): Promise<boolean>;
  addLaunchTotal(id: number, made: number): Promise<void>;
  /** Ends an expanding launch that cannot go on (its query fails on the data); answers whether it was expanding. */
  failLaunch(id: number, now: number): Promise<boolean>;
  /** Takes the oldest expanding launch no other expander holds, until leaseUntil. */
  claimExpandingLaunch(now: number, leaseUntil: number): Promise<Launch | null>;
  /** Holds a launch (until a time) or hands it back (null) so that background expanders leave it or take it. */
  leaseLaunch(id: number, until: number | null): Promise<void>;
  abortExpandingLaunches(campaignId: number, now: number): Promise<number>;
  /**
   * Names the launch's files, in its transaction; each must be stored already (storeAttachmentFile, before the
   * transaction), else AttachmentFileMissing.
   */
  insertAttachments(launchId: number, list: Attachment[], now: number): Promise<void>;
  getAttachments(launchId: number): Promise<Attachment[]>;
  /** The launch's attachments without their bytes. */
  attachmentNames(launchId: number): Promise<AttachmentInfo[]>;
}

/**
 * The queries a launch's transaction writes through, made once per transaction driver (on SQLite
 * there is one for the process): making them for every launch cost each trigger four objects of
 * closures, one per query of those areas.
 */
type LaunchWrites = { launches: LaunchStore; dedup: ReturnType<typeof dedupQueries>; messages: ReturnType<typeof messageQueries>; campaigns: ReturnType<typeof campaignQueries> };
const writesOn = new WeakMap<SqlDriver, LaunchWrites>();
function launchWrites(tx: SqlDriver): LaunchWrites {
  let q = writesOn.get(tx);
  if (!q) {
    q = { launches: launchQueries(tx), dedup: dedupQueries(tx), messages: messageQueries(tx), campaigns: campaignQueries(tx) };
    writesOn.set(tx, q);
  }
  return q;
}

const launchValues = (l: NewLaunch, now: number, total: number) =>
  [l.campaign_id, l.kind, l.state, JSON.stringify(l.content), l.custom_data && JSON.stringify(l.custom_data), l.audience && JSON.stringify(l.audience), l.cursor, total, now, now];

export function launchQueries(db: SqlDriver): LaunchStore {
  const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
  const files = attachmentFileQueries(db);
  return {
    async insertLaunch(l: NewLaunch, now: number, total = 0): Promise<Launch> {
      const id = await db.insertId(
        `INSERT INTO launches (campaign_id, kind, state, content, custom_data, audience, cursor, total, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        launchValues(l, now, total),
      );
      // The row as written, without reading it back (RETURNING * cost a launch a temporary table and a row to decode and parse).
      return { id, campaign_id: l.campaign_id, kind: l.kind, state: l.state, content: l.content ?? {}, custom_data: l.custom_data ?? null, audience: l.audience ?? null, cursor: l.cursor ?? null, total, created_at: now, updated_at: now };
    },
    async insertLaunchWithMessages(l: NewLaunch, now: number, rows: NewMessage[], log: { level: 'info' | 'warning'; text: string }, seal: DedupSeal | null = null): Promise<Launch> {
      // A new launch holds one row per distinct profile, so all of `rows` are added (none conflict).
      const total = new Set(rows.map((r) => r.profile_id)).size;
      // SQLite has no INSERT in a WITH; with webhooks, a skipped message's event is written beside it (insertMessages).
      if (db.dialect === 'sqlite' || (rows.some((m) => m.status === 'skipped') && (await anyWebhooks(db)))) {
        return db.transaction(async (tx) => {
          const q = launchWrites(tx);
          const launch = await q.launches.insertLaunch(l, now, total);
          // First, so that a request that lost the key writes nothing more before rolling back.
          if (seal) await q.dedup.sealDedup(seal, launch.id);
          await q.messages.insertMessages(launch.id, rows, now);
          await q.campaigns.appendCampaignLog(l.campaign_id, log.level, `launch ${launch.id} ${log.text}`, now);
          return launch;
        });
      }
      const columns = MESSAGE_COLUMNS.join(', ');
      const picked = MESSAGE_COLUMNS.map((c) => (c === 'launch_id' ? 'l.id' : `v.${c}`)).join(', ');
      const messagesAndLog = `m AS (
           INSERT INTO messages (${columns}) SELECT ${picked} FROM l, json_populate_recordset(NULL::messages, CAST(? AS TEXT)::json) v ${NEW_MESSAGE_CONFLICT}
         ), g AS (
           INSERT INTO campaign_log (campaign_id, level, message, time) SELECT l.campaign_id, ?, 'launch ' || l.id || ' ' || ?, ? FROM l
         ) SELECT * FROM l`;
      const rest = [JSON.stringify(rows.map((m) => messageRow(null, m, now))), log.level, log.text, now];
      if (!seal) {
        const row = await db.get(
          `WITH l AS (
             INSERT INTO launches (campaign_id, kind, state, content, custom_data, audience, cursor, total, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *
           ), ${messagesAndLog}`,
          [...launchValues(l, now, total), ...rest],
        );
        return toLaunch(row!);
      }
      // With the request's answer: the launch's id is drawn first, so the answer can name it; the
      // launch (and so its messages and log line) is written only if the answer was (the key was free).
      const row = await db.get(
        `WITH i AS (SELECT nextval(pg_get_serial_sequence('launches', 'id')) AS id
         ), d AS (${answerDedupFrom('i')} RETURNING 1
         ), l AS (
           INSERT INTO launches (id, campaign_id, kind, state, content, custom_data, audience, cursor, total, created_at, updated_at)
           SELECT i.id, CAST(? AS INTEGER), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS TEXT),
             CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS BIGINT) FROM i WHERE EXISTS (SELECT 1 FROM d) RETURNING *
         ), ${messagesAndLog}`,
        [...sealParams(seal), ...takeoverParams(seal), ...launchValues(l, now, total), ...rest],
      );
      if (!row) throw new DuplicateRequest(seal.key);
      return toLaunch(row);
    },
    async getLaunch(id: number): Promise<Launch | null> {
      const r = await db.get('SELECT * FROM launches WHERE id = ?', [id]);
      return r ? toLaunch(r) : null;
    },
    /** Newest first, of one campaign or all; `beforeId` pages on. */
    async listLaunches(campaignId: number | null, beforeId: number | null, limit: number): Promise<Launch[]> {
      const rows = await db.all(
        `SELECT * FROM launches WHERE (CAST(? AS BIGINT) IS NULL OR campaign_id = ?) AND (CAST(? AS BIGINT) IS NULL OR id < ?) ORDER BY id DESC LIMIT ?`,
        [campaignId, campaignId, beforeId, beforeId, limit],
      );
      return rows.map(toLaunch);
    },
    async advanceLaunch(id: number, from: string | null, to: string | null, state: LaunchState, made: number, now: number): Promise<boolean> {
      const changed = await db.run(
        `UPDATE launches SET cursor = ?, state = ?, total = total + ?, updated_at = ?
         WHERE id = ? AND state = 'expanding' AND (cursor = ? OR (cursor IS NULL AND CAST(? AS TEXT) IS NULL))`,
        [to, state, made, now, id, from, from],
      );
      return changed === 1;
    },
    async addLaunchTotal(id: number, made: number): Promise<void> {
      await db.run('UPDATE launches SET total = total + ? WHERE id = ?', [made, id]);
    },
    async failLaunch(id: number, now: number): Promise<boolean> {
      return (await db.run("UPDATE launches SET state = 'failed', lease_until = NULL, updated_at = ? WHERE id = ? AND state = 'expanding'", [now, id])) === 1;
    },

    async claimExpandingLaunch(now: number, leaseUntil: number): Promise<Launch | null> {
      const r = await db.get(
        `UPDATE launches SET lease_until = ? WHERE id = (
           SELECT id FROM launches WHERE state = 'expanding' AND (lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT 1 ${skipLocked}
         ) RETURNING *`,
        [leaseUntil, now],
      );
      return r ? toLaunch(r) : null;
    },
    async leaseLaunch(id: number, until: number | null): Promise<void> {
      await db.run('UPDATE launches SET lease_until = ? WHERE id = ?', [until, id]);
    },
    async abortExpandingLaunches(campaignId: number, now: number): Promise<number> {
      return db.run("UPDATE launches SET state = 'aborted', updated_at = ? WHERE campaign_id = ? AND state = 'expanding'", [now, campaignId]);
    },

    async insertAttachments(launchId: number, list: Attachment[], now: number): Promise<void> {
      for (const [i, a] of list.entries()) {
        const sha256 = fileHash(a);
        // The file is marked used in the launch's own commit: the purge leaves a file used within ORPHAN_GRACE_MS.
        if ((await db.run('UPDATE attachment_files SET used_at = ? WHERE sha256 = ?', [now, sha256])) === 0) throw new AttachmentFileMissing(sha256);
        await db.run('INSERT INTO launch_attachments (launch_id, idx, name, mime, data, sha256, size) VALUES (?, ?, ?, ?, ?, ?, ?)', [launchId, i, a.name, a.mime, NO_BYTES, sha256, a.data.length]);
      }
    },
    async getAttachments(launchId: number): Promise<Attachment[]> {
      const rows = await db.all<{ name: string; mime: string; data: Buffer; sha256: string | null; size: number | string | null }>(
        'SELECT name, mime, data, sha256, size FROM launch_attachments WHERE launch_id = ? ORDER BY idx',
        [launchId],
      );
      const list: Attachment[] = [];
      for (const r of rows) {
        // A row with a size names its file (attachment-files.ts); one without holds its bytes (written before migration 025/026).
        const data = r.size === null ? Buffer.from(r.data) : await files.readAttachmentFile(r.sha256!);
        if (data === null) throw new Error(`attachment ${r.name} of launch ${launchId}: its file ${r.sha256} is not stored whole`);
        list.push({ name: r.name, mime: r.mime, data, sha256: r.sha256 });
      }
      return list;
    },
    async attachmentNames(launchId: number): Promise<AttachmentInfo[]> {
      const rows = await db.all<AttachmentInfo>('SELECT name, mime, COALESCE(size, LENGTH(data)) AS size, sha256 FROM launch_attachments WHERE launch_id = ? ORDER BY idx', [launchId]);
      return rows.map((r) => ({ ...r, size: Number(r.size) })); // PostgreSQL answers a BIGINT as text
    },
  };
}
