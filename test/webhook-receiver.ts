/** A real HTTP endpoint for webhook tests: records every request, answers as the test says (a status, or never). */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever an event carries, checked by their assertions
  json: any;
}

export interface Receiver {
  url: string;
  received: Received[];
  /** The requests to one path, in arrival order. */
  at(path: string): Received[];
  /** What to answer: a status, or 'hang' to answer nothing (the request is cut when the receiver closes). */
  answer: (r: Received, nth: number) => number | 'hang';
  close(): Promise<void>;
}

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const r: Received = { path: req.url ?? '/', headers: req.headers, body, json: JSON.parse(body) };
      received.push(r);
      const a = receiver.answer(r, received.filter((x) => x.path === r.path).length);
      if (a !== 'hang') res.writeHead(a, { 'content-type': 'text/plain' }).end(a < 300 ? 'ok' : 'no');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const receiver: Receiver = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    received,
    at: (path) => received.filter((r) => r.path === path),
    answer: () => 200,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
  return receiver;
}
