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
  /** Per subject, the same, once trackSubjects() was called (the soak names each mail in its subject). */
  subjects: Map<string, { n: number; at: number }>;
  trackSubjects(): void;
  /** An outage: while on, the sink answers 421 to every command and turns new connections away. */
  refuse(on: boolean): void;
  reset(): void;
  waitFor(count: number, timeoutMs: number): Promise<boolean>;
  /** When the first mail of `id` arrived (performance.now()), as soon as the sink reports it; null after `timeoutMs`. */
  arrival(id: string, timeoutMs: number): Promise<number | null>;
  close(): Promise<void>;
}

/** Polls until `current()` reaches `count`; false if the deadline passes first. */
export async function waitForCount(current: () => number, count: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (current() < count) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 20));
  }
  return true;
}

export async function startSink(): Promise<Sink> {
  // A worker does not inherit the tsx loader: register it there before importing the TypeScript.
  const thread = new URL('./sink-thread.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(thread)}); });`, { eval: true });
  const sink = { count: 0, arrivals: new Map<string, { n: number; at: number }>(), subjects: new Map<string, { n: number; at: number }>() } as Sink;
  // Closed-loop waits: resolved from the arrival message itself, not a poll (a 20 ms poll would pace the loop).
  const waiting = new Map<string, (at: number) => void>();
  const tally = (map: Map<string, { n: number; at: number }>, key: string, absolute: number) => {
    const a = map.get(key);
    if (a) a.n++;
    else map.set(key, { n: 1, at: absolute - performance.timeOrigin });
  };
  const port = await new Promise<number>((resolve) => {
    worker.on('message', (m: { port: number } | [string, number, string][]) => {
      if (!Array.isArray(m)) return resolve(m.port);
      for (const [id, absolute, subject] of m) {
        sink.count++;
        if (id) {
          tally(sink.arrivals, id, absolute);
          waiting.get(id)?.(sink.arrivals.get(id)!.at);
        }
        if (subject) tally(sink.subjects, subject, absolute);
      }
    });
  });
  return Object.assign(sink, {
    url: `smtp://127.0.0.1:${port}`,
    port,
    trackSubjects() {
      worker.postMessage({ subjects: true });
    },
    refuse(on: boolean) {
      worker.postMessage({ refuse: on });
    },
    reset() {
      sink.count = 0;
      sink.arrivals.clear();
      sink.subjects.clear();
    },
    waitFor: (count: number, timeoutMs: number) => waitForCount(() => sink.count, count, timeoutMs),
    arrival(id: string, timeoutMs: number) {
      const seen = sink.arrivals.get(id);
      if (seen) return Promise.resolve(seen.at);
      return new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => done(null), timeoutMs);
        const done = (at: number | null) => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(at);
        };
        waiting.set(id, done);
      });
    },
    async close() {
      await worker.terminate();
    },
  });
}

/** Waits until every launch in `ids` reached the sink; answers how many did. */
export async function waitDelivered(sink: Sink, ids: Set<string>, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let have = 0;
  for (;;) {
    have = 0;
    for (const id of ids) if (sink.arrivals.has(id)) have++;
    if (have === ids.size || Date.now() > deadline) return have;
    await new Promise((r) => setTimeout(r, 20));
  }
}
