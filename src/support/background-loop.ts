/** A loop's pause: it ends after `ms`, or at once when something calls wake(). */
class Waker {
  private pending: (() => void) | null = null;
  private woken = false;

  wake = (): void => {
    this.woken = true;
    this.pending?.();
  };

  wait(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        self.pending = null;
        self.woken = false;
        resolve();
      }
      this.pending = done;
    });
  }
}

/** Waits for a store that failed: from 100 ms doubling to 5 s (the delivery and webhook loops). */
export const storeBackoff = (failures: number) => Math.min(5000, 100 * 2 ** Math.min(failures, 6));

/**
 * Lets the event loop run (I/O, timers) before going on. SQLite calls resolve without ever leaving
 * the microtask queue, so a loop of them would keep HTTP requests from even being read.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * A loop run in the background of a process (delivery, expansion, tasks): started once, woken when
 * there may be work, stopped after its current step.
 */
export abstract class BackgroundLoop {
  protected readonly waker = new Waker();
  protected stopped = false;
  private running: Promise<void> | null = null;
  /** Failed steps in a row, for the backoff. */
  private failedSteps = 0;

  wake = (): void => this.waker.wake();

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.waker.wake();
    await this.running;
  }

  protected abstract loop(): Promise<void>;

  /** A step went through: the next failure backs off from the start again. */
  protected stepSucceeded(): void {
    this.failedSteps = 0;
  }

  /**
   * A step failed (the store, most often): logs it and pauses, from 100 ms doubling to 5 s, or less
   * when woken. The loop goes on after it; it never ends the process.
   */
  protected async backOff(err: unknown, log: { error(o: object, msg: string): void }, loopName: string): Promise<void> {
    const wait = storeBackoff(++this.failedSteps);
    log.error({ err, retryInMs: wait }, `the ${loopName} loop failed (store unavailable?); retrying`);
    await this.waker.wait(wait);
  }
}
