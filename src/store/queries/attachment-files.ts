/**
 * Attachment bytes, stored once per content (its SHA-256) in chunks of CHUNK_BYTES (migration 025/026).
 *
 * A launch names its files by hash in launch_attachments. The bytes are written before the launch's
 * transaction, a chunk per statement with a turn of the event loop between, and read back the same way:
 * a 9 MB file as one value held SQLite's write lock and the event loop ~80 ms to write and ~40 ms to read
 * (more on a busy machine), and on PostgreSQL was an 18 MB hex string built in one piece. A file that is
 * already stored is only marked used, so the same PDF attached to every trigger is stored once.
 *
 * A file no launch names (its launches purged or erased, or a launch that failed after its files were
 * written) is removed by the retention purge once unused for ORPHAN_GRACE_MS; an erasure removes its
 * own at once. A launch that names a file the purge removed in between learns it from insertAttachments
 * (AttachmentFileMissing) and writes it again (engine/attachment-files.ts).
 */
import { createHash } from 'node:crypto';
import type { Attachment } from '../../core/attachments.ts';
import { yieldToEventLoop } from '../../support/background-loop.ts';
import type { SqlDriver } from '../driver.ts';

/** 256 KB: 64 pages of SQLite's 4 KB, a millisecond or two to copy on a busy machine. */
export const CHUNK_BYTES = 256 * 1024;
/** A file no launch names is kept this long after it was last used: a launch between writing its files and its commit still finds them. */
export const ORPHAN_GRACE_MS = 60 * 60_000;

/** Thrown by insertAttachments when a file it names is not stored (purged since it was written): write it again. */
export class AttachmentFileMissing extends Error {
  constructor(readonly sha256: string) {
    super(`attachment file ${sha256} is not stored`);
  }
}

/** The hash a file is stored under: the one taken as it was decoded, or taken now. */
export const fileHash = (a: Pick<Attachment, 'data' | 'sha256'>): string => a.sha256 ?? createHash('sha256').update(a.data).digest('hex');

/** A buffer over shared memory: handed to the mailer thread, it is not copied. */
function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

export interface AttachmentFileStore {
  /**
   * Stores `data` under its hash unless it is stored whole already (then marks it used at `now`): the file's
   * row, then its chunks a statement each, with a turn of the event loop between. Not in a transaction:
   * each statement commits on its own, and a file left half written is completed by the next write of it.
   */
  storeAttachmentFile(sha256: string, data: Buffer, now: number): Promise<void>;
  /** The file's bytes in one buffer over shared memory, read a chunk at a time; null when it is not stored whole. */
  readAttachmentFile(sha256: string): Promise<Buffer | null>;
}

export function attachmentFileQueries(db: SqlDriver): AttachmentFileStore {
  return {
    async storeAttachmentFile(sha256: string, data: Buffer, now: number): Promise<void> {
      const chunks = Math.max(1, Math.ceil(data.length / CHUNK_BYTES));
      // Marked used first, then counted: a purge that was taking the file away has finished (its lock on the
      // row on PostgreSQL is what the mark waits for), and from now on leaves it; what it took is written again.
      await db.run('INSERT INTO attachment_files (sha256, size, chunks, used_at) VALUES (?, ?, ?, ?) ON CONFLICT (sha256) DO UPDATE SET used_at = excluded.used_at', [
        sha256,
        data.length,
        chunks,
        now,
      ]);
      const stored = await db.get<{ n: number | string }>('SELECT COUNT(*) AS n FROM attachment_chunks WHERE sha256 = ?', [sha256]);
      if (Number(stored!.n) === chunks) return;
      for (let seq = 0; seq < chunks; seq++) {
        if (seq > 0) await yieldToEventLoop();
        const part = data.subarray(seq * CHUNK_BYTES, (seq + 1) * CHUNK_BYTES);
        await db.run('INSERT INTO attachment_chunks (sha256, seq, data) VALUES (?, ?, ?) ON CONFLICT (sha256, seq) DO NOTHING', [sha256, seq, part]);
      }
    },

    async readAttachmentFile(sha256: string): Promise<Buffer | null> {
      const file = await db.get<{ size: number | string; chunks: number }>('SELECT size, chunks FROM attachment_files WHERE sha256 = ?', [sha256]);
      if (!file) return null;
      const out = sharedBuffer(Number(file.size));
      let at = 0;
      for (let seq = 0; seq < Number(file.chunks); seq++) {
        if (seq > 0) await yieldToEventLoop();
        const r = await db.get<{ data: Buffer }>('SELECT data FROM attachment_chunks WHERE sha256 = ? AND seq = ?', [sha256, seq]);
        if (!r || at + r.data.length > out.length) return null;
        at += r.data.copy(out, at);
      }
      return at === out.length ? out : null;
    },
  };
}
