/**
 * The mailer thread holds the next send for each connection, so a connection that finishes starts
 * its next message at once, even while the main thread is busy (a claim, a commit, a render). The
 * SMTP server runs in a thread of its own here, so that it keeps answering while the test blocks
 * the main thread.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import type { SendContext } from '../../src/delivery/channels.ts';
import { SmtpChannel } from '../../src/delivery/smtp-channel.ts';
import type { EmailMessage } from '../../src/core/message.ts';

/** smtp-server in a thread: posts {port} when listening, then {n, at} as each DATA ends; answers the first after 200 ms. */
const SERVER = `
const { SMTPServer } = require('smtp-server');
const { parentPort } = require('node:worker_threads');
let count = 0;
const server = new SMTPServer({
  authOptional: true, disabledCommands: ['STARTTLS'], logger: false,
  onData(stream, _session, callback) {
    stream.resume();
    stream.on('end', () => {
      const n = ++count;
      parentPort.postMessage({ n, at: Date.now() });
      setTimeout(callback, n === 1 ? 200 : 0);
    });
  },
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.server.address().port }));
`;

const silent = { error() {}, warn() {} };

function email(i: number): [EmailMessage, SendContext] {
  const message = { id: i, launch_id: 1 } as SendContext['message'];
  return [{ channel: 'email', to: `p${i}@example.com`, from: { email: 'shop@example.com' }, subject: `m${i}`, text: 'hello' }, { message, attachments: [], resource: {} as SendContext['resource'], subscription: {} as SendContext['subscription'] }];
}

describe('the mailer thread pipeline', () => {
  let server: Worker;
  let port = 0;
  const arrivals = new Map<number, number>();

  before(async () => {
    server = new Worker(SERVER, { eval: true });
    port = await new Promise<number>((resolve) => server.on('message', (m: { port?: number; n?: number; at?: number }) => (m.port ? resolve(m.port) : arrivals.set(m.n!, m.at!))));
  });
  after(() => server.terminate());

  it("starts a connection's next message while the main thread is blocked", async () => {
    const channel = new SmtpChannel({ url: `smtp://127.0.0.1:${port}`, connections: 1, tls: { ca: null, rejectUnauthorized: true }, heapMb: 64, sendTimeoutMs: 10_000, log: silent });
    try {
      const first = channel.send(...email(1));
      const second = channel.send(...email(2));
      while (!arrivals.has(1)) await new Promise((r) => setTimeout(r, 5));
      // The main thread is stuck from here for 1.5 s. The server answers the first mail after 200 ms;
      // the second can only go out before the main thread is free if it was in the thread already.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1500);
      const freed = Date.now();
      await Promise.all([first, second]);
      while (!arrivals.has(2)) await new Promise((r) => setTimeout(r, 5));
      assert.ok(arrivals.get(2)! < freed, `the second mail arrived ${arrivals.get(2)! - freed} ms after the main thread was free`);
    } finally {
      await channel.close();
    }
  });
});
