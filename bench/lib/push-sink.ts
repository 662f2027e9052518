/**
 * A Web Push service for benchmarks: HTTPS with a self-signed certificate made for the run (openssl),
 * answering 201 to every well-formed push (VAPID Authorization, aes128gcm body) and counting them.
 * It runs in a worker thread so that it does not share a core with the baseline's client.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { waitForCount } from './sink.ts';

export interface PushSink {
  /** https://127.0.0.1:<port> */
  url: string;
  /** The certificate's PEM file: clients trust it (NODE_EXTRA_CA_CERTS for Salvo, `ca` for the baseline). */
  certFile: string;
  cert: string;
  count: number;
  reset(): void;
  waitFor(count: number, timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function startPushSink(): Promise<PushSink> {
  const dir = mkdtempSync(path.join(tmpdir(), 'salvo-bench-push-'));
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'], { stdio: 'ignore' });
  const key = readFileSync(keyFile, 'utf8');
  const cert = readFileSync(certFile, 'utf8');
  const thread = new URL('./push-sink-thread.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(thread)}); });`, { eval: true, workerData: { key, cert } });
  const sink = { count: 0 } as PushSink;
  const port = await new Promise<number>((resolve) => {
    worker.on('message', (m: { port: number } | number) => {
      if (typeof m === 'number') sink.count += m;
      else resolve(m.port);
    });
  });
  return Object.assign(sink, {
    url: `https://127.0.0.1:${port}`,
    certFile,
    cert,
    reset() {
      sink.count = 0;
    },
    waitFor: (count: number, timeoutMs: number) => waitForCount(() => sink.count, count, timeoutMs),
    async close() {
      await worker.terminate();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}
