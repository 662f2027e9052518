/**
 * The benchmark's SMSC: the `smpp` package's server in a worker thread (a core of its own, as the SMTP
 * sink has), binding anyone, answering every submit_sm with a message id after `delayMs` (an SMSC's
 * network and processing time) and counting them in a shared counter the main thread reads.
 */
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import smpp, { type PDU } from 'smpp';

const count = new Int32Array(workerData.counter as SharedArrayBuffer);
let delayMs = 0;
parentPort!.on('message', (m: { delayMs?: number }) => {
  if (m.delayMs !== undefined) delayMs = m.delayMs;
});
let id = 0;
const server = smpp.createServer((session) => {
  session.on('error', () => {});
  session.on('bind_transceiver', (pdu: PDU) => session.send(pdu.response()));
  session.on('enquire_link', (pdu: PDU) => session.send(pdu.response()));
  session.on('unbind', (pdu: PDU) => {
    session.send(pdu.response());
    session.close();
  });
  session.on('submit_sm', (pdu: PDU) => {
    const resp = pdu.response({ message_id: (++id).toString(16) });
    const answer = () => {
      Atomics.add(count, 0, 1);
      session.send(resp);
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as AddressInfo).port }));
