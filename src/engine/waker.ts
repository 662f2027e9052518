/** A loop's pause: it ends after `ms`, or at once when something calls wake(). */
export class Waker {
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

/**
 * Lets the event loop run (I/O, timers) before going on. SQLite calls resolve without ever leaving
 * the microtask queue, so a loop of them would keep HTTP requests from even being read.
 */
export const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));
