/**
 * Gathers the writes delivery makes for each send (a message's outcome, a webhook attempt, an outbox capture) into
 * batches for the store, as group commit does: a write asked for while another is on its way waits
 * for the next, which takes all that gathered. Nothing waits on a timer, so a lone write goes at once
 * (a quiet queue adds no latency), and under load many share one statement (PostgreSQL: one round trip
 * for a batch instead of one or more per item).
 *
 * Each caller is answered only once its own item committed (or failed to): a message counts as done
 * only when its outcome is stored.
 */
import { isStoreUnavailable } from '../core/errors.ts';

/** Writes a batch; answers, by item id, what each write answered (absent: the item was not written, e.g. no longer ours). */
export type BatchWriter<T, R> = (items: { id: number; item: T }[]) => Promise<Map<number, R>>;

interface Waiting<T, R> {
  id: number;
  item: T;
  resolve: (result: R | undefined) => void;
  reject: (err: unknown) => void;
}

/** Items in one write at most: a statement's JSON parameter stays small. */
const MAX_BATCH = 500;

export class WriteBatch<T, R> {
  private waiting: Waiting<T, R>[] = [];
  private writing = false;

  /** `maxBatch`: items in one write at most (on SQLite a write holds the event loop while it runs). */
  constructor(
    private readonly write: BatchWriter<T, R>,
    private readonly maxBatch = MAX_BATCH,
  ) {}

  /** Writes one item with whatever others gathered; answers what the store answered for it (undefined: not written). */
  add(id: number, item: T): Promise<R | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id, item, resolve, reject });
      if (this.writing) return;
      this.writing = true;
      // setImmediate: items that finish in this same turn of the event loop join the first write.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length) await this.flush(this.waiting.splice(0, this.maxBatch));
    this.writing = false;
  }

  private async flush(batch: Waiting<T, R>[]): Promise<void> {
    try {
      const written = await this.write(batch.map(({ id, item }) => ({ id, item })));
      for (const w of batch) w.resolve(written.get(w.id));
    } catch (err) {
      // An outage fails them all alike (each caller retries). Anything else may be one item's own
      // fault (or a deadlock with a lease renewal): each is tried alone, so one cannot hold up the rest.
      if (batch.length > 1 && !isStoreUnavailable(err)) {
        for (const w of batch) await this.flush([w]);
        return;
      }
      for (const w of batch) w.reject(err);
    }
  }
}
