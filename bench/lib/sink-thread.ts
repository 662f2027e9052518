/** The SMTP sink's server, run in a worker thread so it has a core of its own (see sink.ts). */
import type { AddressInfo } from 'node:net';
import { parentPort } from 'node:worker_threads';
import { SMTPServer, type SMTPServerSession } from 'smtp-server';

const ID = /^X-(?:Salvo-Launch|Bench)-Id:\s*(\S+)/im;
const SUBJECT = /^Subject:[ \t]*(.*(?:\r\n[ \t].*)*)/im;
// Arrivals go to the main thread in small batches: [id or '', absolute ms, subject or ''].
const pending: [string, number, string][] = [];
setInterval(() => {
  if (pending.length) parentPort!.postMessage(pending.splice(0));
}, 5).unref();

/** Subjects are only sent on when asked (the soak identifies mails by them; the other scenarios do not pay for it). */
let subjects = false;
/** While set, an outage: every command is answered 421 and new connections are turned away. */
let refusing = false;
const refusal = () => Object.assign(new Error('Service not available, try again later (bench outage)'), { responseCode: 421 });
parentPort!.on('message', (m: { subjects?: boolean; refuse?: boolean }) => {
  if (m.subjects !== undefined) subjects = m.subjects;
  if (m.refuse !== undefined) refusing = m.refuse;
});
const gate = (_x: unknown, _s: SMTPServerSession, callback: (e?: Error) => void) => callback(refusing ? refusal() : undefined);

const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  size: 50 * 1024 * 1024,
  onConnect: (session, callback) => gate(null, session, callback),
  onMailFrom: gate,
  onRcptTo: gate,
  onData(stream, _session, callback) {
    let head = '';
    stream.on('data', (c: Buffer) => {
      if (head.length < 8192) head += c.toString('latin1');
    });
    stream.on('end', () => {
      const at = performance.timeOrigin + performance.now();
      const end = head.indexOf('\r\n\r\n');
      const headers = end < 0 ? head : head.slice(0, end);
      // A message that ends during an outage is refused too: the client must send it again.
      if (refusing) return callback(refusal());
      pending.push([ID.exec(headers)?.[1] ?? '', at, subjects ? (SUBJECT.exec(headers)?.[1].replace(/\r\n[ \t]/g, ' ') ?? '') : '']);
      callback();
    });
  },
});
// A client that dies mid-conversation (the durability run kills servers) resets its connection.
server.on('error', () => {});
server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.server.address() as AddressInfo).port }));
