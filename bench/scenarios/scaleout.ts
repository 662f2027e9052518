/**
 * N. many processes on one PostgreSQL database: 2 `salvo serve` (API only, SALVO_WORKERS=0) and 2
 * `salvo worker`, the trigger load of A split over both serves, one worker SIGKILLed halfway. Every
 * launch answered with success must reach the sink; what the killed worker had in flight may arrive
 * twice (at most its 8 sends). Throughput against one `salvo serve` (API and delivery) in the same run.
 * Then wake-ups: one trigger at a time at the first serve, delivered by the workers; accept to sent
 * (messages.sent_at - created_at, both in the database) bounds commit to claim from above, against
 * half the poll interval a worker without LISTEN/NOTIFY would wait on average.
 */
import postgres from 'postgres';
import { load, TOKEN } from '../lib/load.ts';
import { percentile, type Figure } from '../lib/report.ts';
import { startSalvo, startWorker, type Child } from '../lib/server.ts';
import { waitDelivered, type Sink } from '../lib/sink.ts';
import type { World } from '../lib/world.ts';

const START = '/api/v1.1/campaigns/triggers/start';
const WORKER_CONCURRENCY = 8;
const POLL_MS = 250;

export async function scaleOut(w: World, sink: Sink, o: { seconds: number; connections: number; oneByOne: number }): Promise<Figure[]> {
  const body = (n: number) => JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email((n * 7919) % w.profiles), content: { title: 'Scale-out', n } });
  const env = { ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN, SALVO_LEASE_SECONDS: '5', SALVO_POLL_MS: String(POLL_MS) };

  // One process: API and delivery.
  sink.reset();
  const one = await startSalvo(env);
  await load(one.url + START, { ...o, seconds: 1, body: (n) => body(n + 40_000_000) });
  const single = await load(one.url + START, { ...o, body: (n) => body(n + 41_000_000) });
  await one.stop();

  // 2 + 2, one worker killed halfway.
  sink.reset();
  const api = { ...env, SALVO_WORKERS: '0' };
  const serves = [await startSalvo(api), await startSalvo(api)];
  const workers: Child[] = [await startWorker(env), await startWorker(env)];
  const answered = new Set<string>();
  const onAnswer = (s: number, h: Record<string, string>) => s === 200 && answered.add(h['launch-id']);
  const half = Math.ceil(o.connections / 2);
  await Promise.all(serves.map((s, i) => load(s.url + START, { connections: half, seconds: 1, body: (n) => body(n + 42_000_000 + i * 500_000) })));
  const killAt = setTimeout(() => void workers[0].stop('SIGKILL'), (o.seconds * 1000) / 2);
  const loads = await Promise.all(serves.map((s, i) => load(s.url + START, { connections: half, seconds: o.seconds, body: (n) => body(n + 43_000_000 + i * 500_000), onAnswer })));
  clearTimeout(killAt);
  const delivered = await waitDelivered(sink, answered, 180_000);
  let duplicates = 0;
  for (const id of answered) duplicates += Math.max(0, (sink.arrivals.get(id)?.n ?? 0) - 1);
  const lost = answered.size - delivered;
  const rps = loads.reduce((a, r) => a + r.rps, 0);
  const p99 = Math.max(...loads.map((r) => r.p99));

  // Wake-ups across processes: one trigger at a time, each waited for at the sink.
  const before = new Set<string>();
  for (let i = 0; i < o.oneByOne; i++) {
    const res = await fetch(serves[0].url + START, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(44_000_000 + i) });
    const launch = res.headers.get('launch-id');
    if (res.status !== 200 || !launch) continue;
    before.add(launch);
    await waitDelivered(sink, new Set([launch]), 10_000);
  }
  const sql = postgres(w.env.SALVO_DATABASE_URL, { max: 1, onnotice: () => {} });
  const spans = (await sql.unsafe(`SELECT sent_at - created_at AS ms FROM messages WHERE launch_id IN (${[...before].map(Number).join(',') || 0}) AND sent_at IS NOT NULL ORDER BY 1`)).map((r) => Number(r.ms));
  await sql.end();
  await Promise.all([...serves, ...workers].map((c) => c.stop()));

  const wake = percentile(spans, 50);
  return [
    {
      scenario: 'N', store: w.kind, name: '2 serve + 2 worker accept throughput', value: rps, unit: 'req/s',
      baseline: { value: single.rps, unit: 'req/s', what: 'one salvo serve, same load' }, ratio: rps / single.rps,
      note: `p99 ${Math.round(p99)} ms (one process: ${Math.round(single.p99)} ms); ${loads.reduce((a, r) => a + r.errors + r.non2xx, 0)} errors or non-2xx`,
    },
    {
      scenario: 'N', store: w.kind, name: 'worker SIGKILLed halfway: delivered', value: delivered, unit: 'launches',
      baseline: { value: answered.size, unit: 'accepted', what: 'success answers of both serves' },
      ratio: delivered / Math.max(1, answered.size), target: `none lost; duplicates <= the killed worker's in-flight (${WORKER_CONCURRENCY})`,
      met: lost === 0 && duplicates <= WORKER_CONCURRENCY, note: `lost ${lost}, duplicates ${duplicates} (SALVO_LEASE_SECONDS=5)`,
    },
    {
      scenario: 'N', store: w.kind, name: 'accept at one process to sent by another, p50', value: wake, unit: 'ms',
      baseline: { value: POLL_MS / 2, unit: 'ms', what: `half the poll interval (SALVO_POLL_MS=${POLL_MS}), the mean wait without a wake-up` },
      ratio: wake / 20, target: '<= 20 ms (commit to claim, bounded by accept to sent)', met: wake <= 20,
      note: `p99 ${percentile(spans, 99)} ms over ${spans.length} triggers sent one at a time`,
    },
  ];
}
