/**
 * How busy a process is with work that someone is waiting for: a count of such requests in flight,
 * kept by whoever serves them (an HTTP hook), read by background work that can wait (delivery),
 * which then does less until the requests are answered. Many requests in flight at once mean the
 * process has no CPU to spare; one or two mean it has, and the background work goes at full speed.
 */
export class Pressure {
  private inflight = 0;
  /** When the count was last at or over the threshold. */
  private highAt = -Infinity;

  /**
   * `threshold`: requests in flight that count as pressure; `holdMs`: how long pressure lasts after
   * the count was last that high (answers free a slot for a moment before the next request arrives).
   */
  constructor(private readonly o: { threshold: number; holdMs: number }) {}

  /** A request began. */
  enter = (): void => {
    if (++this.inflight >= this.o.threshold) this.highAt = performance.now();
  };

  /** A request ended (answered, or its connection gone). */
  leave = (): void => {
    if (this.inflight-- >= this.o.threshold) this.highAt = performance.now();
  };

  /** Whether requests are many in flight now, or were within the last holdMs. */
  pressed(): boolean {
    return this.inflight >= this.o.threshold || performance.now() - this.highAt < this.o.holdMs;
  }
}
