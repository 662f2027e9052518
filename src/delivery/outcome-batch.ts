/**
 * Gathers delivery outcomes into batches for the store, as group commit does: an outcome that finishes
 * while a write is on its way waits for the next write, which takes all that gathered. Nothing waits on
 * a timer, so a lone outcome is written at once (a quiet queue adds no latency), and under load many
 * outcomes share one statement (PostgreSQL: one round trip for a batch instead of four per message).
 *
 * Each caller is answered only once its own outcome committed (or failed to): a message counts as done
 * only when its outcome is stored.
 */
import { isStoreUnavailable } from '../core/errors.ts';
import type { Outcome } from '../core/outcome.ts';

export type OutcomeWriter = (records: { id: number; outcome: Outcome }[]) => Promise<Set<number>>;

interface Waiting {
  id: number;
  outcome: Outcome;
  resolve: (recorded: boolean) => void;
  reject: (err: unknown) => void;
}

/** Outcomes in one write at most: a statement's JSON parameter stays small. */
const MAX_BATCH = 500;

export class OutcomeBatch {
  private waiting: Waiting[] = [];
  private writing = false;

  constructor(private readonly write: OutcomeWriter) {}

  /** Records one outcome with whatever others gathered; answers whether the message was still ours. */
  record(id: number, outcome: Outcome): Promise<boolean> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ id, outcome, resolve, reject });
      if (this.writing) return;
      this.writing = true;
      // setImmediate: outcomes that finish in this same turn of the event loop join the first write.
      setImmediate(() => void this.drain());
    });
  }

  private async drain(): Promise<void> {
    while (this.waiting.length) await this.flush(this.waiting.splice(0, MAX_BATCH));
    this.writing = false;
  }

  private async flush(batch: Waiting[]): Promise<void> {
    try {
      const recorded = await this.write(batch.map(({ id, outcome }) => ({ id, outcome })));
      for (const w of batch) w.resolve(recorded.has(w.id));
    } catch (err) {
      // An outage fails them all alike (each caller retries). Anything else may be one outcome's own
      // fault (or a deadlock with a lease renewal): each is tried alone, so one cannot hold up the rest.
      if (batch.length > 1 && !isStoreUnavailable(err)) {
        for (const w of batch) await this.flush([w]);
        return;
      }
      for (const w of batch) w.reject(err);
    }
  }
}
