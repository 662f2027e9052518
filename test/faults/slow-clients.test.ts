/**
 * Issue 8, item 8: slow or idle clients cannot hold connections forever (request, headers and
 * keep-alive timeouts), and connections beyond SALVO_MAX_CONNECTIONS are refused while the server
 * keeps answering the ones it has.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, startServer, type TestServer } from '../helpers.ts';
import { assertTiming } from '../timing.ts';

interface RawSocket {
  socket: net.Socket;
  closed: boolean;
  received: string;
}

function connect(url: string): Promise<RawSocket> {
  const { port } = new URL(url);
  return new Promise((resolve, reject) => {
    const raw: RawSocket = { socket: net.connect(Number(port), '127.0.0.1'), closed: false, received: '' };
    raw.socket.on('data', (c) => (raw.received += c));
    raw.socket.on('error', () => {}); // a reset by the server is what some tests expect
    raw.socket.on('close', () => (raw.closed = true));
    raw.socket.once('connect', () => resolve(raw));
    raw.socket.once('error', reject);
  });
}

const health = async (s: TestServer) => {
  const started = Date.now();
  const r = await fetch(`${s.url}/health`);
  assert.equal(r.status, 200);
  assertTiming('/health beside slow clients', Date.now() - started, { targetMs: 200, boundMs: 3000 });
};

describe('slow clients', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ env: { SALVO_REQUEST_TIMEOUT_SECONDS: '2', SALVO_HEADERS_TIMEOUT_SECONDS: '1', SALVO_KEEPALIVE_SECONDS: '1' } });
  });
  after(() => s.close());

  it('closes sockets that sent 5 of 100,000 body bytes, or half their headers, and answers others meanwhile', async () => {
    const slowBodies = await Promise.all(Array.from({ length: 60 }, () => connect(s.url)));
    for (const raw of slowBodies) {
      raw.socket.write('POST /api/v1.1/campaigns/triggers/start HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"id"');
    }
    const slowHeaders = await Promise.all(Array.from({ length: 20 }, () => connect(s.url)));
    for (const raw of slowHeaders) raw.socket.write('POST /api/v1.1/campaigns/triggers/start HTTP/1.1\r\nHost: x\r\n');
    const silent = await Promise.all(Array.from({ length: 20 }, () => connect(s.url)));

    await health(s);
    const all = [...slowBodies, ...slowHeaders, ...silent];
    await eventually(async () => all.every((r) => r.closed), 10_000, 'every slow socket closed by the server');
    assert.ok(slowBodies.every((r) => r.received === '' || r.received.startsWith('HTTP/1.1 408')), 'a slow body is answered 408 or closed');
    await health(s);
  });

  it('closes a kept-alive connection that stays idle', async () => {
    const raw = await connect(s.url);
    raw.socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(async () => raw.received.includes('"ok":true'), 5000, 'the answer');
    await eventually(async () => raw.closed, 10_000, 'the idle connection closed');
  });
});

describe('connection cap', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ env: { SALVO_MAX_CONNECTIONS: '10', SALVO_HEADERS_TIMEOUT_SECONDS: '20' } });
  });
  after(() => s.close());

  it('refuses connections above SALVO_MAX_CONNECTIONS and keeps answering the ones it holds', async () => {
    const held = await Promise.all(Array.from({ length: 10 }, () => connect(s.url)));
    await eventually(async () => (await new Promise<number>((r) => s.app.http.server.getConnections((_e, n) => r(n)))) === 10, 5000, 'ten connections counted');
    const over = await Promise.all(Array.from({ length: 5 }, () => connect(s.url).catch(() => ({ closed: true }) as RawSocket)));
    await eventually(async () => over.every((r) => r.closed), 5000, 'connections above the cap closed');
    assert.ok(held.every((r) => !r.closed), 'the held connections stay open');

    held[0].socket.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
    await eventually(async () => held[0].received.startsWith('HTTP/1.1 200') && held[0].received.includes('"ok":true'), 2000, 'a held connection is answered');

    for (const r of held) r.socket.destroy();
    await eventually(async () => (await fetch(`${s.url}/health`).catch(() => null))?.status === 200, 5000, 'new connections taken again');
  });
});
