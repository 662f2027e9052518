/**
 * B. instant: `start` at 100 requests/s; the time from sending the request to the SMTP sink having
 * the mail, against the same time for a raw nodemailer send of the same message. Then the closed
 * loop: one trigger at a time, each waited for at the sink, about 50 a second, so the server is idle
 * between them; its tail shows fixed stalls (a timer, a wake-up that waits for a poll, a connection
 * opened on the way) that load would hide.
 */
import { baselineTransport, preparedMessage } from '../lib/mail.ts';
import { percentile, type Figure } from '../lib/report.ts';
import { TOKEN } from '../lib/load.ts';
import { startSalvo } from '../lib/server.ts';
import type { Sink } from '../lib/sink.ts';
import type { World } from '../lib/world.ts';

/** Warm-up before each measured loop, the same for Salvo and for raw nodemailer: connections, caches, JIT. */
const WARM_UP = 20;

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

async function waitArrivals(sink: Sink, ids: string[], timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (ids.some((id) => !sink.arrivals.has(id)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
}

export async function instant(w: World, sink: Sink, o: { count: number; rate: number }): Promise<Figure[]> {
  const gap = 1000 / o.rate;

  // Baseline: nodemailer sends the prepared message at the same rate, warmed as Salvo is below (20
  // sends one after another, then a pause). A send that fails or never arrives counts as
  // an infinite latency, as Salvo's do.
  sink.reset();
  const transport = baselineTransport(sink.url, 5);
  for (let i = 0; i < WARM_UP; i++) await transport.sendMail(preparedMessage(i, w.email(i), `warm${i}`));
  await new Promise((r) => setTimeout(r, 500));
  const sentAt = new Map<string, number>();
  const t0 = performance.now();
  const sends: Promise<unknown>[] = [];
  let baseFailed = 0;
  for (let i = 0; i < o.count; i++) {
    await sleepUntil(t0 + i * gap);
    const id = `b${i}`;
    sentAt.set(id, performance.now());
    sends.push(transport.sendMail(preparedMessage(i, w.email(i), id)).catch(() => void baseFailed++));
  }
  await Promise.all(sends);
  await waitArrivals(sink, [...sentAt.keys()], 30_000);
  transport.close();
  const base = [...sentAt].map(([id, at]) => (sink.arrivals.has(id) ? sink.arrivals.get(id)!.at - at : Infinity)).sort((a, b) => a - b);

  // Salvo: each request a launch; from the request to the mail in the sink.
  sink.reset();
  const salvo = await startSalvo({ ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN });
  const post = (i: number) =>
    fetch(`${salvo.url}/api/v1.1/campaigns/triggers/start`, {
      method: 'POST',
      body: JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email(i % w.profiles), content: { title: 'Hello', n: i } }),
    });
  for (let i = 0; i < WARM_UP; i++) await (await post(1_000_000 + i)).text(); // warm: connections, caches, JIT
  await new Promise((r) => setTimeout(r, 500));
  const asked = new Map<string, number>();
  const s0 = performance.now();
  const posts: Promise<void>[] = [];
  // A request that gets no answer (on an overloaded machine the server falls seconds behind and
  // connects time out) or a refusal is counted, as an infinite latency, not left out of the percentiles.
  let unanswered = 0;
  let refused = 0;
  for (let i = 0; i < o.count; i++) {
    await sleepUntil(s0 + i * gap);
    const at = performance.now();
    posts.push(
      post(i).then(
        async (r) => {
          await r.text();
          const id = r.headers.get('launch-id');
          if (r.ok && id) asked.set(id, at);
          else refused++;
        },
        () => void unanswered++,
      ),
    );
  }
  await Promise.all(posts);
  await waitArrivals(sink, [...asked.keys()], 30_000);
  await salvo.stop();
  const delivered = [...asked].filter(([id]) => sink.arrivals.has(id)).map(([id, at]) => sink.arrivals.get(id)!.at - at);
  const lost = asked.size - delivered.length;
  const failed = lost + refused + unanswered;
  const lat = [...delivered, ...Array<number>(failed).fill(Infinity)].sort((a, b) => a - b);

  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  return [
    { scenario: 'B', store: w.kind, name: 'request to inbox p50', value: p50, unit: 'ms', baseline: { value: percentile(base, 50), unit: 'ms', what: 'raw nodemailer send to inbox p50' }, ratio: p50 / percentile(base, 50), target: '<= 10 ms', met: p50 <= 10 && failed === 0 },
    { scenario: 'B', store: w.kind, name: 'request to inbox p99', value: p99, unit: 'ms', baseline: { value: percentile(base, 99), unit: 'ms', what: 'raw nodemailer p99' }, ratio: p99 / percentile(base, 99), target: '<= 50 ms', met: p99 <= 50 && failed === 0,
      note: `${o.count} requests at ${o.rate}/s; failures count as infinite latency: ${lost} not delivered, ${refused} refused, ${unanswered} got no answer (fetch failed); raw nodemailer ${base.filter((l) => l === Infinity).length + baseFailed} failed` },
  ];
}

/** The closed loop's pace: a trigger starts this long after the one before it did (or at once when that one took longer). */
const CLOSED_GAP_MS = 20;

const ms = (sorted: number[], p: number) => percentile(sorted, p);
const slowest = (lat: [string, number][], n: number) =>
  lat
    .sort((a, b) => b[1] - a[1])
    .slice(0, n)
    .map(([i, l]) => `#${i} ${Math.round(l)}`)
    .join(', ');

/** One send or trigger at a time: `send(i)` answers the id the sink will see; each is waited for there before the next. */
async function closedLoop(sink: Sink, count: number, send: (i: number) => Promise<string | null>): Promise<{ lat: number[]; lost: number; slow: string }> {
  const lat: [string, number][] = [];
  let lost = 0;
  let next = performance.now();
  for (let i = 0; i < count; i++) {
    await sleepUntil(next);
    const at = performance.now();
    next = at + CLOSED_GAP_MS;
    const id = await send(i).catch(() => null); // no answer: counted as not delivered
    const arrived = id === null ? null : await sink.arrival(id, 10_000);
    // Not delivered (no answer, a refusal, or nothing at the sink): an infinite latency in the percentiles.
    if (arrived === null) lost++;
    lat.push([String(i), arrived === null ? Infinity : arrived - at]);
  }
  const slow = slowest([...lat], 5);
  return { lat: lat.map(([, l]) => l).sort((a, b) => a - b), lost, slow };
}

export async function instantClosedLoop(w: World, sink: Sink, o: { count: number }): Promise<Figure[]> {
  // Baseline: nodemailer, pooled like Salvo, sends the prepared message and waits for it at the sink.
  sink.reset();
  const transport = baselineTransport(sink.url, 5);
  // Warmed as Salvo is below: 20 sends, each waited for at the sink.
  for (let i = 0; i < WARM_UP; i++) {
    await transport.sendMail(preparedMessage(i, w.email(i), `cwarm${i}`));
    await sink.arrival(`cwarm${i}`, 10_000);
  }
  const base = await closedLoop(sink, o.count, async (i) => {
    const id = `c${i}`;
    await transport.sendMail(preparedMessage(i, w.email(i), id));
    return id;
  });
  transport.close();

  sink.reset();
  const salvo = await startSalvo({ ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN });
  const post = async (i: number) => {
    const r = await fetch(`${salvo.url}/api/v1.1/campaigns/triggers/start`, {
      method: 'POST',
      body: JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email(i % w.profiles), content: { title: 'Hello', n: i } }),
    });
    await r.text();
    return r.ok ? r.headers.get('launch-id') : null; // a refusal counts as not delivered
  };
  // Warm-up (connections, caches, JIT). Messages go oldest first, so the first warm-up trigger arrives
  // only after whatever the open loop left queued (an overloaded run leaves a backlog): the closed
  // loop then starts on an empty queue.
  for (let i = 0; i < WARM_UP; i++) {
    const id = await post(2_000_000 + i).catch(() => null);
    if (id) await sink.arrival(id, i === 0 ? 300_000 : 10_000);
  }
  const got = await closedLoop(sink, o.count, (i) => post(3_000_000 + i));
  await salvo.stop();

  const note = (r: typeof got, what: string) => `${o.count} one at a time, ${1000 / CLOSED_GAP_MS}/s; max ${Math.round(r.lat.at(-1) ?? NaN)} ms; ${what} slowest ${r.slow}${r.lost ? `; ${r.lost} not delivered` : ''}`;
  const p50 = ms(got.lat, 50);
  const p99 = ms(got.lat, 99);
  const target = w.kind === 'postgres' ? { p50: 15, p99: 75 } : { p50: 10, p99: 50 };
  return [
    { scenario: 'B', store: w.kind, name: 'closed loop request to inbox p50', value: p50, unit: 'ms', baseline: { value: ms(base.lat, 50), unit: 'ms', what: 'raw nodemailer closed loop p50' }, ratio: p50 / ms(base.lat, 50), target: `<= ${target.p50} ms`, met: p50 <= target.p50 },
    { scenario: 'B', store: w.kind, name: 'closed loop request to inbox p99', value: p99, unit: 'ms', baseline: { value: ms(base.lat, 99), unit: 'ms', what: 'raw nodemailer closed loop p99' }, ratio: p99 / ms(base.lat, 99), target: `<= ${target.p99} ms`, met: p99 <= target.p99 && got.lost === 0, note: note(got, 'Salvo') },
    { scenario: 'B', store: w.kind, name: 'closed loop request to inbox max', value: got.lat.at(-1) ?? NaN, unit: 'ms', baseline: { value: base.lat.at(-1) ?? NaN, unit: 'ms', what: 'raw nodemailer closed loop max' }, ratio: (got.lat.at(-1) ?? NaN) / (base.lat.at(-1) ?? NaN), note: `raw nodemailer slowest ${base.slow}` },
  ];
}
