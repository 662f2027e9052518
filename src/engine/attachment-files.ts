/**
 * A launch's attachment files are written before its transaction, a chunk at a time
 * (store/queries/attachment-files.ts); the transaction only names them. Should the retention purge remove
 * a file in between (unused for an hour, named by no launch), the transaction fails with
 * AttachmentFileMissing and rolls back: the files are written again and the transaction runs once more.
 */
import type { Attachment } from '../core/attachments.ts';
import { AttachmentFileMissing, fileHash } from '../store/queries/attachment-files.ts';
import type { AttachmentFileStore } from '../store/store.ts';

export async function withAttachmentFiles<T>(store: Pick<AttachmentFileStore, 'storeAttachmentFile'>, attachments: Attachment[], write: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const now = Date.now();
    for (const a of attachments) await store.storeAttachmentFile(fileHash(a), a.data, now);
    try {
      return await write();
    } catch (e) {
      if (!(e instanceof AttachmentFileMissing) || attempt === 2) throw e;
    }
  }
}
