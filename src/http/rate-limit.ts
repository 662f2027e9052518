/**
 * A fixed-window limit per client address for the public links, which anyone may fetch: enough for a
 * household or an office behind one address opening and clicking, not for a flood. Hand-written (a map
 * and a window) rather than @fastify/rate-limit: one route family needs it, with no store behind it.
 */
export class RateLimiter {
  private counts = new Map<string, number>();
  private windowEnds = 0;

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Whether one more request from `client` fits in this window. */
  take(client: string): boolean {
    const now = this.clock();
    if (now >= this.windowEnds) {
      this.counts = new Map();
      this.windowEnds = now + this.windowMs;
    }
    const n = (this.counts.get(client) ?? 0) + 1;
    this.counts.set(client, n);
    return n <= this.limit;
  }
}
