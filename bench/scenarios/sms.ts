/**
 * M. SMS over SMPP: N messages from one `start` (a custom_request matching N profiles with an SMS
 * subscription) submitted to a local SMSC through Salvo's SMPP session, against the raw `smpp` client
 * submitting as many messages with the same window to the same SMSC, in messages per second. Run
 * twice: the SMSC answering at once (what limits is the sender's own cost per message) and after
 * 20 ms (an SMSC's usual answer time, where the window is what limits).
 */
import { Worker } from 'node:worker_threads';
import smpp from 'smpp';
import type { Figure } from '../lib/report.ts';
import { TOKEN } from '../lib/load.ts';
import { startSalvo } from '../lib/server.ts';
import { createWorld, dropWorld } from '../lib/world.ts';

const WINDOW = 10;
const TEXT = 'Your order A-17 is on its way. Track it at https://shop.example/t/A17';

interface Smsc {
  url: string;
  count(): number;
  reset(): void;
  delay(ms: number): void;
  close(): Promise<unknown>;
}

async function startSmsc(): Promise<Smsc> {
  const counter = new SharedArrayBuffer(4);
  const count = new Int32Array(counter);
  const thread = new URL('../lib/smsc-thread.ts', import.meta.url).href;
  const worker = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(thread)}); });`, { eval: true, workerData: { counter } });
  const port = await new Promise<number>((r) => worker.once('message', (m: { port: number }) => r(m.port)));
  return {
    url: `smpp://bench:pw@127.0.0.1:${port}`,
    count: () => Atomics.load(count, 0),
    reset: () => Atomics.store(count, 0, 0),
    delay: (ms) => worker.postMessage({ delayMs: ms }),
    close: () => worker.terminate(),
  };
}

async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
  return true;
}

/** The raw client: bind, then keep WINDOW submit_sm outstanding until n are answered; messages per second. */
async function raw(port: number, n: number): Promise<number> {
  const session = smpp.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    session.on('error', reject);
    session.on('connect', () => session.bind_transceiver({ system_id: 'bench', password: 'pw' }, () => resolve()));
  });
  const t0 = performance.now();
  let sent = 0;
  let answered = 0;
  await new Promise<void>((done) => {
    const next = () => {
      while (sent < n && sent - answered < WINDOW) {
        const i = sent++;
        session.submit_sm({ source_addr_ton: 5, source_addr: 'BENCH', dest_addr_ton: 1, dest_addr_npi: 1, destination_addr: `7900${String(i).padStart(7, '0')}`, registered_delivery: 1, short_message: TEXT }, () => {
          if (++answered === n) done();
          else next();
        });
      }
    };
    next();
  });
  const rate = n / ((performance.now() - t0) / 1000);
  session.destroy();
  return rate;
}

export async function sms(kind: 'sqlite' | 'postgres', pgUrl: string | null, o: { count: number }): Promise<Figure[]> {
  const smsc = await startSmsc();
  const port = Number(new URL(smsc.url).port);
  const w = await createWorld(kind, 0, pgUrl);
  const salvo = await startSalvo({ ...w.env, SALVO_TOKEN: TOKEN, SALVO_WORKERS: String(WINDOW * 2) });
  const call = async (method: string, body: Record<string, unknown>) => {
    const r = await fetch(`${salvo.url}/api/v1.1/${method}`, { method: 'POST', body: JSON.stringify({ token: TOKEN, ...body }) });
    const j = (await r.json()) as { error: number; error_text: string; data: { id: number } };
    if (j.error) throw new Error(`${method}: ${j.error_text}`);
    return j.data;
  };
  const resource = (await call('resources/add', { name: 'sms', channels: ['sms'], sms: { sender: 'BENCH', smpp: { url: smsc.url, window: WINDOW } } })).id;
  const template = (await call('templates/add', { name: 'sms', channels: [{ sid: 'sms', fields: { text: 'Your order {apicontent.order} is on its way. Track it at https://shop.example/t/{apicontent.order}' } }] })).id;
  const campaign = (await call('campaigns/triggers/add', { name: 'sms', trigger_type: 'api_call', send_channel: 'sms', resource_id: resource, db_id: w.dbId, content: [{ message_id: template }], is_active: true })).id;
  // Two sets of profiles (Segment 1 and 2), one per run.
  for (const segment of [1, 2]) {
    for (let from = 0; from < o.count; from += 2000) {
      const data = Array.from({ length: Math.min(2000, o.count - from) }, (_, k) => {
        const phone = `+7${segment}00${String(from + k).padStart(7, '0')}`;
        return { phones: [phone], Segment: segment, subscriptions: [{ resource_id: resource, channel: 'sms', phone }] };
      });
      await call('profiles/import_batch', { db_id: w.dbId, matching: 'phone', data });
    }
  }
  // Warm: the session binds, the code paths are compiled.
  await call('campaigns/triggers/start', { id: campaign, matching: 'phone', phone: '+71000000000', content: { order: 'W' } });
  await until(() => smsc.count() >= 1, 10_000);

  const figures: Figure[] = [];
  for (const [segment, delayMs] of [[1, 0], [2, 20]] as const) {
    smsc.delay(delayMs);
    const baseline = await raw(port, o.count);
    smsc.reset();
    const s0 = performance.now();
    await call('campaigns/triggers/start', { id: campaign, custom_request: { Segment: segment }, content: { order: 'A-17' } });
    const done = await until(() => smsc.count() >= o.count, 10 * 60_000);
    const rate = smsc.count() / ((performance.now() - s0) / 1000);
    const ratio = rate / baseline;
    figures.push({
      scenario: 'M',
      store: kind,
      name: `SMS over SMPP, ${o.count} messages, SMSC answering in ${delayMs} ms`,
      value: rate,
      unit: 'msg/s',
      baseline: { value: baseline, unit: 'msg/s', what: `raw smpp client, window ${WINDOW}` },
      ratio,
      target: '>= 0.8 x baseline',
      met: done && ratio >= 0.8,
      ...(done ? {} : { note: `only ${smsc.count()} arrived` }),
    });
  }
  await salvo.stop();
  await smsc.close();
  await dropWorld(w);
  return figures;
}
