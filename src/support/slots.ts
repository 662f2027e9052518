/**
 * A fixed number of slots, taken in the order asked for: `take` waits for one (or gives up when its
 * signal, if any, aborts) and answers the function that gives it back, which may be called more than once.
 */
export class Slots {
  private free: number;
  private readonly waiting: { grant: () => void; signal?: AbortSignal }[] = [];

  constructor(readonly size: number) {
    this.free = size;
  }

  async take(signal?: AbortSignal): Promise<() => void> {
    if (this.free > 0 && this.waiting.length === 0) this.free--;
    else {
      await new Promise<void>((resolve, reject) => {
        const waiter = { grant: resolve, signal };
        this.waiting.push(waiter);
        signal?.addEventListener('abort', () => {
          const i = this.waiting.indexOf(waiter);
          if (i >= 0) this.waiting.splice(i, 1);
          reject(signal.reason);
        }, { once: true });
      });
    }
    let given = false;
    return () => {
      if (given) return;
      given = true;
      this.giveBack();
    };
  }

  /** Slots in use, and callers waiting for one. */
  get stats(): { used: number; waiting: number } {
    return { used: this.size - this.free, waiting: this.waiting.length };
  }

  private giveBack(): void {
    const next = this.waiting.shift();
    if (next) next.grant();
    else this.free++;
  }
}
