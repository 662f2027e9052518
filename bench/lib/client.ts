/**
 * An API client as a careful integrator writes one: every answer recorded, and a 503, a 5xx, a 409
 * (the first request with this key still running), a timeout or a refused connection retried with
 * the same body and the same Request-ID (so the server's deduplication makes the retry safe), after
 * the server's Retry-After, until a deadline.
 */
export interface Answered {
  status: number;
  headers: Headers;
  body: { error?: number; error_text?: string; data?: unknown };
}

export class RecordingClient {
  /** Every attempt's outcome: an HTTP status, or 'timeout' / 'no connection'. */
  readonly answers = new Map<string, number>();
  /** Every answer's time from request to answer (ms), attempts included. */
  readonly latencies: number[] = [];
  /** Requests sent again after a retryable outcome. */
  retries = 0;
  /** The first few refusals (4xx other than 409/429), which no retry would change: a harness bug or a finding. */
  readonly refusals: string[] = [];

  constructor(
    private readonly base: () => string,
    private readonly token: string,
    private readonly o: { timeoutMs: number; giveUpMs: number },
  ) {}

  private count(what: string): void {
    this.answers.set(what, (this.answers.get(what) ?? 0) + 1);
  }

  /** One API call, retried as above; null when it never got a final answer before the deadline. */
  async call(method: string, body: Record<string, unknown>, requestId?: string): Promise<Answered | null> {
    const payload = JSON.stringify({ token: this.token, ...body });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (requestId) headers['request-id'] = requestId;
    const giveUp = performance.now() + this.o.giveUpMs;
    for (let attempt = 0; ; attempt++) {
      if (attempt > 0) this.retries++;
      const t0 = performance.now();
      let wait = 1000;
      try {
        const r = await fetch(`${this.base()}/api/v1.1/${method}`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(this.o.timeoutMs) });
        const text = await r.text();
        this.latencies.push(performance.now() - t0);
        this.count(String(r.status));
        if (r.status < 500 && r.status !== 409 && r.status !== 429) {
          if (r.status !== 200 && this.refusals.length < 10) this.refusals.push(`${method} ${r.status}: ${text.slice(0, 300)}`);
          return { status: r.status, headers: r.headers, body: JSON.parse(text) };
        }
        const after = Number(r.headers.get('retry-after'));
        if (after > 0) wait = Math.min(after * 1000, 5000);
      } catch (e) {
        this.count((e as Error).name === 'TimeoutError' ? 'timeout' : 'no connection');
      }
      if (performance.now() + wait > giveUp) return null;
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
