/**
 * P. Web Push fan-out: one `start` whose custom_request matches N profiles, each with a browser push
 * subscription, every push encrypted (aes128gcm), VAPID-signed and posted over HTTPS to a local push
 * service; against raw `web-push` sendNotification with a keep-alive agent and as many pushes in
 * flight as Salvo has workers, to the same service in the same run. Figure: messages per second.
 */
import { createECDH, randomBytes } from 'node:crypto';
import https from 'node:https';
import webpush from 'web-push';
import type { Figure } from '../lib/report.ts';
import { api, TOKEN } from '../lib/load.ts';
import { startPushSink } from '../lib/push-sink.ts';
import { startSalvo } from '../lib/server.ts';
import { benchSchema } from '../lib/world.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const WORKERS = 8;
const SUBJECT = 'mailto:bench@shop.example';

export async function webPush(kind: 'sqlite' | 'postgres', pgUrl: string | null, n: number): Promise<Figure[]> {
  const sink = await startPushSink();
  const server = createECDH('prime256v1');
  server.generateKeys();
  const vapid = { vapid_public_key: server.getPublicKey().toString('base64url'), vapid_private_key: server.getPrivateKey().toString('base64url'), subject: SUBJECT };
  // One browser key pair for every subscription: each push is still encrypted on its own (a fresh ECDH key and salt).
  const browser = createECDH('prime256v1');
  browser.generateKeys();
  const keys = { p256dh: browser.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
  const endpoint = (i: number) => `${sink.url}/push/${i}`;

  // The baseline: what a hand-written sender using the library directly achieves.
  const agent = new https.Agent({ keepAlive: true, maxSockets: 64, ca: sink.cert });
  const options = { TTL: 86_400, urgency: 'high' as const, agent, vapidDetails: { subject: SUBJECT, publicKey: vapid.vapid_public_key, privateKey: vapid.vapid_private_key } };
  // Warm: connections open and code compiled, as they are in Salvo by the time its launch is measured.
  await Promise.all(Array.from({ length: WORKERS }, (_, i) => webpush.sendNotification({ endpoint: endpoint(n + i), keys }, 'warm-up', options)));
  sink.reset();
  const b0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      for (let i = next++; i < n; i = next++) {
        const payload = JSON.stringify({ title: `Hi User${i}`, body: 'Order A-17 is paid', url: 'https://shop.example/o/A-17', message_id: i });
        await webpush.sendNotification({ endpoint: endpoint(i), keys }, payload, options);
      }
    }),
  );
  await sink.waitFor(n, 60_000);
  const baseline = n / ((performance.now() - b0) / 1000);
  agent.destroy();

  sink.reset();
  const dataDir = mkdtempSync(path.join(tmpdir(), 'salvo-bench-webpush-'));
  let schema: Awaited<ReturnType<typeof benchSchema>> | null = null;
  const env: Record<string, string> = { SALVO_DATA_DIR: dataDir, SALVO_TOKEN: TOKEN, SALVO_WORKERS: String(WORKERS), NODE_EXTRA_CA_CERTS: sink.certFile };
  if (kind === 'postgres') {
    schema = await benchSchema(pgUrl!, 'salvo_bench_push');
    env.SALVO_DATABASE_URL = schema.url;
  }
  const salvo = await startSalvo(env);
  const db = (await api(salvo.url, 'databases/add', { name: 'push', fields: [{ name: 'Segment', type: 'int', indexed: true }] })).id;
  const resource = (await api(salvo.url, 'resources/add', { name: 'push', channels: ['push'], push: { webpush: vapid } })).id;
  const template = (await api(salvo.url, 'templates/add', { name: 'push', channels: [{ sid: 'push', fields: { title: 'Hi {lead._fname}', body: 'Order {apicontent.order} is paid', url: 'https://shop.example/o/{apicontent.order}' } }] })).id;
  const campaign = (await api(salvo.url, 'campaigns/triggers/add', { name: 'push', trigger_type: 'api_call', send_channel: 'push', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true })).id;
  for (let from = 0; from < n; from += 1000) {
    const data = [];
    for (let i = from; i < Math.min(n, from + 1000); i++) {
      data.push({ email: `u${i}@bench.example`, _fname: `User${i}`, Segment: 1, subscriptions: [{ resource_id: resource, channel: 'push', provider: 'Chrome', subscription_id: endpoint(i), keys }] });
    }
    await api(salvo.url, 'profiles/import_batch', { db_id: db, data });
  }
  const s0 = performance.now();
  await api(salvo.url, 'campaigns/triggers/start', { id: campaign, custom_request: { Segment: 1 }, content: { order: 'A-17' } });
  const done = await sink.waitFor(n, 10 * 60_000);
  const rate = sink.count / ((performance.now() - s0) / 1000);
  await salvo.stop();
  await sink.close();
  await schema?.drop();

  const ratio = rate / baseline;
  return [
    {
      scenario: 'P',
      store: kind,
      name: `Web Push fan-out of ${n} messages`,
      value: rate,
      unit: 'msg/s',
      baseline: { value: baseline, unit: 'msg/s', what: `raw web-push sendNotification, keep-alive, ${WORKERS} in flight` },
      ratio,
      target: '>= 0.8 x baseline',
      met: done && ratio >= 0.8,
      ...(done ? {} : { note: `only ${sink.count} of ${n} arrived` }),
    },
  ];
}
