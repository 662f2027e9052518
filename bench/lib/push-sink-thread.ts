/** The Web Push sink's HTTPS server, in a worker thread so it has a core of its own (see push-sink.ts). */
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';

let accepted = 0;
setInterval(() => {
  if (accepted) parentPort!.postMessage(accepted);
  accepted = 0;
}, 5).unref();

const { key, cert } = workerData as { key: string; cert: string };
// A push service answers 201 Created once it holds the (encrypted) push; the body is only drained.
const server = createServer({ key, cert, keepAliveTimeout: 60_000 }, (req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    if (req.method === 'POST' && req.headers.authorization?.startsWith('vapid t=') && req.headers['content-encoding'] === 'aes128gcm') accepted++;
    res.writeHead(201).end();
  });
});
server.listen(0, '127.0.0.1', () => parentPort!.postMessage({ port: (server.address() as AddressInfo).port }));
