/**
 * C. fan-out: one `start` whose custom_request matches a tenth of the database, every message
 * delivered to the SMTP sink; against raw nodemailer (pooled, the same connection count) sending as
 * many prepared messages. Peak resident memory of the server is sampled meanwhile.
 */
import { baselineTransport, preparedMessage } from '../lib/mail.ts';
import type { Figure } from '../lib/report.ts';
import { TOKEN } from '../lib/load.ts';
import { startSalvo } from '../lib/server.ts';
import type { Sink } from '../lib/sink.ts';
import type { World } from '../lib/world.ts';

const CONNECTIONS = 5;

/** process.cpuUsage's microseconds (this process: the sink's thread, and the raw sender when it runs) in seconds. */
const secondsOfUsage = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1e6;

export async function fanout(w: World, sink: Sink): Promise<Figure[]> {
  const n = Math.ceil((w.profiles - 3) / 10); // Segment 3 holds i = 3, 13, 23, ...

  sink.reset();
  const transport = baselineTransport(sink.url, CONNECTIONS);
  const c0 = process.cpuUsage();
  const b0 = performance.now();
  const inFlight = new Set<Promise<unknown>>();
  for (let k = 0; k < n; k++) {
    const i = 3 + 10 * k;
    const p = transport.sendMail(preparedMessage(i, w.email(i), `f${i}`)).finally(() => inFlight.delete(p));
    inFlight.add(p);
    if (inFlight.size >= CONNECTIONS * 4) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  await sink.waitFor(n, 60_000);
  const baseline = (performance.now() - b0) / 1000;
  const rawCpu = secondsOfUsage(process.cpuUsage(c0));
  transport.close();

  sink.reset();
  const salvo = await startSalvo({ ...w.env, SALVO_SMTP_URL: sink.url, SALVO_SMTP_POOL: String(CONNECTIONS), SALVO_TOKEN: TOKEN });
  let peak = salvo.rssMb();
  const sampler = setInterval(() => (peak = Math.max(peak, salvo.rssMb())), 100);
  const s0 = performance.now();
  const benchCpu0 = process.cpuUsage();
  const salvoCpu0 = salvo.cpuSeconds();
  const res = await fetch(`${salvo.url}/api/v1.1/campaigns/triggers/start`, {
    method: 'POST',
    body: JSON.stringify({ token: TOKEN, id: w.campaignId, custom_request: { Segment: 3 }, content: { title: 'Hello' } }),
  });
  const answeredMs = performance.now() - s0;
  await res.text();
  const done = await sink.waitFor(n, 30 * 60_000);
  const took = (performance.now() - s0) / 1000;
  const salvoCpu = salvo.cpuSeconds();
  const sinkCpu = secondsOfUsage(process.cpuUsage(benchCpu0));
  clearInterval(sampler);
  await salvo.stop();

  const ratio = took / baseline;
  // CPU per message, in ms: on 2 cores the sum is what limits both runs (docs/performance.md).
  const perMessage = (s: number) => ((s / n) * 1000).toFixed(2);
  const cpuNote = `CPU a message: raw nodemailer with the sink ${perMessage(rawCpu)} ms; Salvo main thread ${perMessage(salvoCpu.main - salvoCpu0.main)} ms, its other threads (mailer, V8's, WAL checkpoint) ${perMessage(salvoCpu.others - salvoCpu0.others)} ms, the sink meanwhile ${perMessage(sinkCpu)} ms`;
  return [
    { scenario: 'C', store: w.kind, name: `fan-out of ${n} messages`, value: took, unit: 's', baseline: { value: baseline, unit: 's', what: `raw nodemailer, ${CONNECTIONS} pooled connections` }, ratio, target: '<= 1.1 x baseline', met: done && ratio <= 1.1, note: `${Math.round(n / took)} msg/s; answered in ${answeredMs.toFixed(0)} ms${done ? '' : `; only ${sink.count} arrived`}; ${cpuNote}` },
    { scenario: 'C', store: w.kind, name: 'fan-out peak RSS', value: peak, unit: 'MB', ratio: peak / 150, target: '<= 150 MB', met: peak <= 150 },
  ];
}
