/** The SMTP sink's server, run in a worker thread so it has a core of its own (see sink.ts). */
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { SMTPServer } from 'smtp-server';

const ID = /^X-(?:Salvo-Launch|Bench)-Id:\s*(\S+)/im;
// Arrivals go to the main thread in small batches: [id or '', absolute ms].
let pending: [string, number][] = [];
setInterval(() => {
  if (pending.length) parentPort!.postMessage(pending.splice(0));
}, 5).unref();

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
      const at = performance.timeOrigin + performance.now();
      const end = head.indexOf('\r\n\r\n');
      pending.push([ID.exec(end < 0 ? head : head.slice(0, end))?.[1] ?? '', at]);
      callback();
    });
  },
});
// A client that dies mid-conversation (the durability run kills servers) resets its connection.
server.on('error', () => {});
server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.server.address() as AddressInfo).port }));
