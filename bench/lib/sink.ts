/** An SMTP sink for benchmarks: accepts and discards, counting mails and when each launch's first arrived. */
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Sink {
  url: string;
  port: number;
  /** Mails accepted since the last reset. */
  count: number;
  /** Per launch id (X-Salvo-Launch-Id) or bench id (X-Bench-Id): how many arrived, and when the first did. */
  arrivals: Map<string, { n: number; at: number }>;
  reset(): void;
  waitFor(count: number, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

const ID = /^X-(?:Salvo-Launch|Bench)-Id:\s*(\S+)/im;

export async function startSink(): Promise<Sink> {
  const sink = { count: 0, arrivals: new Map<string, { n: number; at: number }>() } as Sink;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    size: 50 * 1024 * 1024,
    onData(stream, _session, callback) {
      let head = '';
      stream.on('data', (c: Buffer) => {
        if (head.length < 8192) head += c.toString('latin1');
      });
      stream.on('end', () => {
        const at = performance.now();
        sink.count++;
        const id = ID.exec(head.slice(0, head.indexOf('\r\n\r\n') >>> 0))?.[1];
        if (id) {
          const a = sink.arrivals.get(id);
          if (a) a.n++;
          else sink.arrivals.set(id, { n: 1, at });
        }
        callback();
      });
    },
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.server.address() as AddressInfo).port;
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
    close: () => new Promise<void>((r) => server.close(() => r())),
  });
}
