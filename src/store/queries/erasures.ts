/**
 * Erasures (profiles/delete, GDPR): a profile's rows removed, what its messages, launches, outbox copies
 * and pending webhook deliveries say about the person removed with it, and the record of who erased it.
 * Set-based: one statement per table, whatever the number of messages.
 */
import { PROFILE_DELETED } from '../../core/outcome.ts';
import type { ProfileKey } from '../../core/profile.ts';
import { chunks, placeholders, type Row, type SqlDriver } from '../driver.ts';
import { appendJsonItem } from './rows.ts';

export interface Erasure {
  id: number;
  profile_id: string;
  db_id: number;
  /** The name of the API token that asked for it. */
  token_name: string;
  created_at: number;
}

/** The profile to erase: its id, its database, and its side-index keys (profileKeys of it as stored). */
export interface ErasedProfile {
  id: string;
  db_id: number;
  keys: ProfileKey[];
}

/** What an erasure changed, for the log. */
export interface ErasureCounts {
  /** Messages stripped of personal data (all of the profile's). */
  messages: number;
  /** Those of them that were still to be sent, now skipped (profile_deleted). */
  skipped: number;
  /** Launches of this profile alone whose content, custom_data and attachments were removed. */
  launches: number;
  outbox: number;
  webhookEvents: number;
}

/** Erasing a profile, and the record of erasures. */
export interface ErasureStore {
  /**
   * Erases a profile in the caller's transaction: deletes it, its side-index keys and its subscriptions;
   * keeps its messages for statistics (ids, statuses, times, campaign, launch, channel, attempts, and
   * the opaque profile id) without address, subject, body, overrides, custom_data, last_error or history
   * details; ends those still to be sent (skipped, profile_deleted), a send in flight included; removes
   * the content, custom_data and attachments of launches that went to this profile only, the outbox
   * copies of its messages, and the webhook deliveries still pending that name it or such a launch.
   */
  eraseProfile(p: ErasedProfile, now: number): Promise<ErasureCounts>;
  recordErasure(e: Omit<Erasure, 'id' | 'created_at'>, now: number): Promise<Erasure>;
  /** Newest first, of one database or all. */
  listErasures(dbId: number | null, limit: number): Promise<Erasure[]>;
}

const toErasure = (r: Row): Erasure => ({
  id: Number(r.id),
  profile_id: r.profile_id as string,
  db_id: Number(r.db_id),
  token_name: r.token_name as string,
  created_at: Number(r.created_at),
});

/**
 * A history without its details: each entry keeps its status and time. Details are free text (SMTP
 * replies, provider errors, the address a receipt names), so none is kept. Dialects differ only here.
 */
const SCRUBBED_HISTORY: Record<SqlDriver['dialect'], string> = {
  sqlite: `(SELECT json_group_array(json_object('status', json_extract(e.value, '$.status'), 'time', json_extract(e.value, '$.time')))
    FROM (SELECT value FROM json_each(messages.history) ORDER BY key) e)`,
  postgres: `COALESCE((SELECT json_agg(json_build_object('status', e -> 'status', 'time', e -> 'time') ORDER BY i)::text
    FROM json_array_elements(CAST(messages.history AS json)) WITH ORDINALITY AS t (e, i)), '[]')`,
};

/** Where a text contains another (a needle with no LIKE wildcards to escape). */
const CONTAINS: Record<SqlDriver['dialect'], string> = { sqlite: 'instr(payload, ?) > 0', postgres: 'strpos(payload, ?) > 0' };

/**
 * Launches whose every message is the profile's (a single-profile start): their content and custom_data
 * were written for this person. An expanding launch may still add others' messages, so it is left.
 * Parameters: the profile id twice.
 */
const SOLE_LAUNCHES = `SELECT m.launch_id FROM messages m JOIN launches l ON l.id = m.launch_id
  WHERE m.profile_id = ? AND l.state <> 'expanding'
    AND NOT EXISTS (SELECT 1 FROM messages o WHERE o.launch_id = m.launch_id AND o.profile_id <> ?)`;

/** History with one more entry, spliced in as text (as messages/retry does); `entry` is the SQL of its JSON text. */
const appendHistory = (entry: string) => appendJsonItem('history', entry);

/**
 * The attachment files of `hashes` that no launch names any more, at once (the purge would wait an hour).
 * On PostgreSQL their rows are locked first and the names read after, as the purge does: a launch naming
 * one meanwhile either committed (it is seen, and the file stays) or waits and finds it gone, and writes
 * it again (engine/attachment-files.ts).
 */
async function eraseUnnamedFiles(tx: SqlDriver, hashes: string[]): Promise<void> {
  for (const part of chunks(hashes, 100)) {
    const list = `(${placeholders(part.length)})`;
    if (tx.dialect === 'postgres') await tx.all(`SELECT sha256 FROM attachment_files WHERE sha256 IN ${list} FOR UPDATE`, part);
    const unnamed = `sha256 IN ${list} AND NOT EXISTS (SELECT 1 FROM launch_attachments a WHERE a.sha256 = f.sha256)`;
    await tx.run(`DELETE FROM attachment_chunks WHERE sha256 IN (SELECT sha256 FROM attachment_files f WHERE ${unnamed})`, part);
    await tx.run(`DELETE FROM attachment_files AS f WHERE ${unnamed}`, part);
  }
}

export function erasureQueries(db: SqlDriver): ErasureStore {
  return {
    async eraseProfile(p: ErasedProfile, now: number): Promise<ErasureCounts> {
      return db.transaction(async (tx) => {
        // Pending deliveries first, while the launches still count as this profile's alone. A message.*
        // payload names the profile as JSON.stringify writes it (core/webhooks.ts eventBody); launch.done and
        // task.done of its own launches carry their custom_data.
        const webhookEvents = await tx.run(
          `DELETE FROM webhook_events WHERE status IN ('queued', 'sending') AND (${CONTAINS[tx.dialect]} OR launch_id IN (${SOLE_LAUNCHES}))`,
          [`"profile_id":${JSON.stringify(p.id)}`, p.id, p.id],
        );
        const files = await tx.all<{ sha256: string }>(`SELECT DISTINCT sha256 FROM launch_attachments WHERE size IS NOT NULL AND launch_id IN (${SOLE_LAUNCHES})`, [p.id, p.id]);
        await tx.run(`DELETE FROM launch_attachments WHERE launch_id IN (${SOLE_LAUNCHES})`, [p.id, p.id]);
        await eraseUnnamedFiles(tx, files.map((f) => f.sha256));
        const launches = await tx.run(`UPDATE launches SET content = NULL, custom_data = NULL, updated_at = ? WHERE id IN (${SOLE_LAUNCHES})`, [now, p.id, p.id]);
        const outbox = await tx.run('DELETE FROM outbox WHERE message_id IN (SELECT id FROM messages WHERE profile_id = ?)', [p.id]);
        // Bounce diagnostics name the address.
        await tx.run('DELETE FROM email_feedback WHERE message_id IN (SELECT id FROM messages WHERE profile_id = ?)', [p.id]);
        const messages = await tx.run(
          `UPDATE messages SET address = NULL, subject = NULL, body = NULL, sent_copy = NULL, overrides = NULL, custom_data = NULL, last_error = NULL,
             history = ${SCRUBBED_HISTORY[tx.dialect]} WHERE profile_id = ?`,
          [p.id],
        );
        // After the scrub, so that these entries keep their detail (it names no one). A message being sent
        // is taken from its worker too: the worker's outcome, which would write back what was rendered for
        // the person, then finds it no longer its own and is dropped. No message.skipped event is written:
        // the erasure deletes what webhooks would say about the profile, it does not announce it.
        const skippedEntry = JSON.stringify({ status: 'skipped', time: now, detail: PROFILE_DELETED });
        const inFlightEntry = JSON.stringify({ status: 'skipped', time: now, detail: `${PROFILE_DELETED} while being sent: it may have gone out` });
        const skipped = await tx.run(
          `UPDATE messages SET status = 'skipped', skip_reason = ?, worker = NULL, lease_until = NULL, updated_at = ?,
             history = ${appendHistory("CASE WHEN status = 'sending' THEN ? ELSE ? END")}
           WHERE profile_id = ? AND status IN ('queued', 'waiting', 'sending')`,
          [PROFILE_DELETED, now, inFlightEntry, skippedEntry, inFlightEntry, skippedEntry, p.id],
        );
        await tx.run('DELETE FROM subscriptions WHERE profile_id = ?', [p.id]);
        // By its keys (the table's primary key) rather than by profile_id, which no index leads with: a
        // database's fields never change, so the keys profileKeys computes are those saveProfiles wrote.
        for (const field of new Set(p.keys.map((k) => k.field))) {
          for (const part of chunks(p.keys.filter((k) => k.field === field).map((k) => k.key))) {
            await tx.run(`DELETE FROM profile_keys WHERE db_id = ? AND field = ? AND key IN (${placeholders(part.length)}) AND profile_id = ?`, [p.db_id, field, ...part, p.id]);
          }
        }
        await tx.run('DELETE FROM profiles WHERE id = ?', [p.id]);
        return { messages, skipped, launches, outbox, webhookEvents };
      });
    },

    async recordErasure(e: Omit<Erasure, 'id' | 'created_at'>, now: number): Promise<Erasure> {
      const r = await db.get('INSERT INTO erasures (profile_id, db_id, token_name, created_at) VALUES (?, ?, ?, ?) RETURNING *', [e.profile_id, e.db_id, e.token_name, now]);
      return toErasure(r!);
    },

    async listErasures(dbId: number | null, limit: number): Promise<Erasure[]> {
      const rows = await db.all('SELECT * FROM erasures WHERE (CAST(? AS INTEGER) IS NULL OR db_id = ?) ORDER BY id DESC LIMIT ?', [dbId, dbId, limit]);
      return rows.map(toErasure);
    },
  };
}
