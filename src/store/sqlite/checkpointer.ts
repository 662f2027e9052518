/**
 * WAL checkpoints off the event loop. Left to itself SQLite checkpoints inside the commit that takes
 * the WAL past 1,000 pages: it copies the pages into the database file and fsyncs it, on the thread
 * that committed. better-sqlite3 is synchronous, so that stalled the whole process (HTTP, delivery)
 * for 5-150 ms on a busy disk, every ~150 commits: the tail of request-to-inbox (docs/performance-log.md,
 * issue 11). Here a thread with a connection of its own checkpoints every `everyMs`, and the
 * process's own connection only checkpoints past `BACKSTOP_PAGES`, should that thread be dead or far behind.
 */
import { Worker } from 'node:worker_threads';

/** Pages (4 KB) the WAL may reach before a commit checkpoints it after all (SQLite's default is 1,000). */
export const BACKSTOP_PAGES = 10_000;

/** How often the thread checkpoints. */
const EVERY_MS = 1000;

export class WalCheckpointer {
  private readonly thread: Worker;
  private readonly exited: Promise<void>;

  /** `onExit`: the thread ended (died, or closed): the caller's connection checkpoints as SQLite would by itself. */
  constructor(file: string, o: { onError: (err: Error) => void; onExit: () => void; everyMs?: number }) {
    const everyMs = o.everyMs ?? EVERY_MS;
    const onError = o.onError;
    // The thread allocates next to nothing: small heaps keep its resident memory small.
    this.thread = new Worker(new URL('./checkpoint-thread.mjs', import.meta.url), { workerData: { file, everyMs }, resourceLimits: { maxYoungGenerationSizeMb: 1, maxOldGenerationSizeMb: 8 } });
    this.thread.unref();
    this.thread.on('message', (m: { error?: { message: string; code?: string }; fatal?: boolean; truncated?: number; done?: boolean }) => {
      if (m.truncated !== undefined) {
        this.truncations.get(m.truncated)?.(m.done === true);
        this.truncations.delete(m.truncated);
        return;
      }
      if (!m.error) return;
      const what = m.fatal ? `the WAL checkpoint thread ended: ${m.error.message}; commits checkpoint from now on` : `WAL checkpoint failed: ${m.error.message}; retrying`;
      onError(Object.assign(new Error(what), { code: m.error.code }));
    });
    // A thread that dies is not restarted: commits checkpoint again, as without it (onExit).
    this.thread.on('error', (e) => onError(new Error(`the WAL checkpoint thread died: ${(e as Error | undefined)?.message ?? String(e)}; commits checkpoint from now on`)));
    this.exited = new Promise((r) =>
      this.thread.once('exit', () => {
        o.onExit();
        r();
      }),
    );
  }

  private readonly truncations = new Map<number, (done: boolean) => void>();
  private nextTruncation = 0;

  /**
   * Checkpoints the whole WAL and truncates it to zero bytes, in the thread (it may wait for readers and
   * fsyncs). Answers whether it completed; false when the thread is gone or readers held it.
   */
  truncate(): Promise<boolean> {
    const id = ++this.nextTruncation;
    return new Promise((resolve) => {
      this.truncations.set(id, resolve);
      this.thread.postMessage({ truncate: id });
      void this.exited.then(() => resolve(false));
    });
  }

  /** Stops the thread and closes its connection (before the process's own, which then checkpoints last). */
  async close(): Promise<void> {
    this.thread.postMessage('close');
    const timer = setTimeout(() => void this.thread.terminate(), 2000);
    await this.exited;
    clearTimeout(timer);
  }
}
