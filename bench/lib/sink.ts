/**
 * An SMTP sink for benchmarks: accepts and discards, counting mails and when each launch's first
 * arrived. The server runs in a worker thread: in the bench's own thread it would share a core with
 * the baseline's nodemailer client and become what the scenario measures.
 */
import { Worker } from 'node:worker_threads';

export interface Sink {
  url: string;
  port: number;
  /** Mails accepted since the last reset. */
  count: number;
  /** Per launch id (X-Salvo-Launch-Id) or bench id (X-Bench-Id): how many arrived, and when the first did (performance.now()). */
  arrivals: Map<string, { n: number; at: number }>;
  reset(): void;
  waitFor(count: number, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function startSink(): Promise<Sink> {
  // A worker does not inherit the tsx loader: register it there before importing the TypeScript.
  const thread = new URL('./sink-thread.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(thread)}); });`, { eval: true });
  const sink = { count: 0, arrivals: new Map<string, { n: number; at: number }>() } as Sink;
  const port = await new Promise<number>((resolve) => {
    worker.on('message', (m: { port: number } | [string, number][]) => {
      if (!Array.isArray(m)) return resolve(m.port);
      for (const [id, absolute] of m) {
        sink.count++;
        if (!id) continue;
        const a = sink.arrivals.get(id);
        if (a) a.n++;
        else sink.arrivals.set(id, { n: 1, at: absolute - performance.timeOrigin });
      }
    });
  });
  return Object.assign(sink, {
    url: `smtp://127.0.0.1:${port}`,
    port,
    reset() {
      sink.count = 0;
      sink.arrivals.clear();
    },
    async waitFor(count: number, timeoutMs: number) {
      const deadline = Date.now() + timeoutMs;
      while (sink.count < count) {
        if (Date.now() > deadline) return false;
        await new Promise((r) => setTimeout(r, 20));
      }
      return true;
    },
    async close() {
      await worker.terminate();
    },
  });
}
