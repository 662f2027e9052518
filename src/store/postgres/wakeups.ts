/**
 * Wake-ups across processes on PostgreSQL: a process that commits work (a launch's messages, a launch
 * to expand, a task) NOTIFYs, and every process with background loops LISTENs and wakes the loop at
 * once, instead of finding the work at its next poll. Every wake follows a commit, so the work is
 * visible when the notification arrives. Polling stays the fallback: a NOTIFY lost with a cut
 * connection, or never sent by a process that died right after its commit, is found by the next poll,
 * and each (re)connect of the listening connection wakes every loop (what was missed meanwhile).
 */
import type { PgDriver } from './driver.ts';

/** The most often one process sends a NOTIFY. */
const NOTIFY_EVERY_MS = 10;

/** `W`: the kinds of work announced (engine/loops.ts `WORK`); the store knows only their names. */
export class PgWakeups<W extends string> {
  /** Kinds of work to announce with the next NOTIFY: wakes close together share one. */
  private pending = new Set<W>();
  private scheduled = false;
  private lastSent = 0;
  private listening: { unlisten(): Promise<void> } | null = null;
  private closed = false;

  private constructor(
    private readonly driver: PgDriver,
    readonly channel: string,
    private readonly kinds: readonly W[],
    private readonly onError: (err: unknown, what: string) => void,
  ) {}

  /**
   * One channel per schema (`salvo_wake:<schema>`), however the schema was chosen (search_path in the
   * URL, PGOPTIONS): installations sharing a database do not wake one another.
   */
  static async open<W extends string>(driver: PgDriver, kinds: readonly W[], onError: (err: unknown, what: string) => void): Promise<PgWakeups<W>> {
    const r = await driver.get<{ schema: string }>('SELECT current_schema() AS schema');
    return new PgWakeups(driver, `salvo_wake:${r?.schema ?? ''}`, kinds, onError);
  }

  /**
   * Announces work committed by this process to every process listening (this one too: harmless). The
   * first wake after a quiet spell is sent at once (next turn of the event loop); under load, at most one
   * NOTIFY per NOTIFY_EVERY_MS goes out: every NOTIFY wakes every listening process, which then asks
   * the database for work, and the loops that are busy find the new work without being told.
   */
  notify(what: W): void {
    if (this.closed) return;
    this.pending.add(what);
    if (this.scheduled) return;
    this.scheduled = true;
    const wait = Math.max(0, this.lastSent + NOTIFY_EVERY_MS - Date.now());
    if (wait === 0) setImmediate(() => this.flush());
    else setTimeout(() => this.flush(), wait).unref();
  }

  private flush(): void {
    this.scheduled = false;
    if (this.closed) return;
    const payload = [...this.pending].join(',');
    this.pending.clear();
    this.lastSent = Date.now();
    this.driver.notify(this.channel, payload).catch((err) => this.onError(err, 'sending a wake-up NOTIFY'));
  }

  /** LISTENs and wakes `wake(what)` for each kind announced; retried in the background while the server cannot be reached. */
  async listen(wake: (what: W) => void): Promise<void> {
    const onNotify = (payload: string) => {
      for (const what of payload.split(',')) if ((this.kinds as readonly string[]).includes(what)) wake(what as W);
    };
    const onListen = () => this.kinds.forEach(wake);
    for (let wait = 250; !this.closed; wait = Math.min(wait * 2, 10_000)) {
      try {
        this.listening = await this.driver.listen(this.channel, onNotify, onListen);
        if (this.closed) await this.listening.unlisten();
        return;
      } catch (err) {
        this.onError(err, 'LISTEN for wake-ups (polling meanwhile)');
        await new Promise((r) => setTimeout(r, wait).unref());
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.listening?.unlisten().catch(() => {});
    this.listening = null;
  }
}

