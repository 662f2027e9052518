/**
 * A. accept: single-profile `start` (matching by email) over a 100k-profile database, 50 connections,
 * against a bare Fastify route parsing the same JSON. Then the same load with the server killed by
 * SIGKILL halfway: every launch that got a success answer must reach the SMTP sink.
 */
import type { Figure } from '../lib/report.ts';
import { load, TOKEN } from '../lib/load.ts';
import { startBaseline, startSalvo } from '../lib/server.ts';
import { waitDelivered, type Sink } from '../lib/sink.ts';
import type { World } from '../lib/world.ts';

const START = '/api/v1.1/campaigns/triggers/start';

export async function accept(w: World, sink: Sink, o: { seconds: number; connections: number }): Promise<Figure[]> {
  const body = (n: number) => JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email((n * 7919) % w.profiles), content: { title: 'Accepted', n } });
  const env = { ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN };

  const base = await startBaseline();
  await load(base.url + START, { ...o, seconds: 1, body });
  const baseline = await load(base.url + START, { ...o, body });
  await base.stop();

  sink.reset();
  let salvo = await startSalvo(env);
  await load(salvo.url + START, { ...o, seconds: 1, body: (n) => body(n + 10_000_000) });
  const accepted = new Set<string>();
  const r = await load(salvo.url + START, { ...o, body: (n) => body(n + 20_000_000), onAnswer: (s, h) => s === 200 && accepted.add(h['launch-id']) });
  await sink.waitFor(sink.count + 1, 1); // let the sink settle into the count below
  const drained = await waitDelivered(sink, accepted, 120_000);
  await salvo.stop();

  // Durability: SIGKILL in the middle of the load, restart, and count what arrives. A short lease,
  // so that what the killed server had claimed is retaken in seconds rather than a minute.
  sink.reset();
  const durable = { ...env, SALVO_LEASE_SECONDS: '5' };
  salvo = await startSalvo(durable);
  const answered = new Set<string>();
  const killAt = setTimeout(() => void salvo.stop('SIGKILL'), (o.seconds * 1000) / 2);
  await load(salvo.url + START, { ...o, body: (n) => body(n + 30_000_000), onAnswer: (s, h) => s === 200 && answered.add(h['launch-id']) });
  clearTimeout(killAt);
  salvo = await startSalvo(durable);
  const delivered = await waitDelivered(sink, answered, 120_000);
  await salvo.stop();
  let duplicates = 0;
  for (const id of answered) duplicates += Math.max(0, (sink.arrivals.get(id)?.n ?? 0) - 1);
  const lost = answered.size - delivered;

  const ratio = r.rps / baseline.rps;
  return [
    { scenario: 'A', store: w.kind, name: 'accept throughput', value: r.rps, unit: 'req/s', baseline: { value: baseline.rps, unit: 'req/s', what: 'bare Fastify, same JSON' }, ratio, target: '>= 0.50 of baseline', met: ratio >= 0.5 },
    { scenario: 'A', store: w.kind, name: 'accept p99 latency', value: r.p99, unit: 'ms', baseline: { value: baseline.p99, unit: 'ms', what: 'bare Fastify p99' }, ratio: r.p99 / 25, target: '<= 25 ms', met: r.p99 <= 25 },
    { scenario: 'A', store: w.kind, name: 'accepted then delivered', value: drained, unit: 'launches', baseline: { value: accepted.size, unit: 'accepted', what: 'success answers' }, ratio: drained / Math.max(1, accepted.size), target: 'all', met: drained === accepted.size, note: `${r.errors} errors, ${r.non2xx} non-2xx` },
    {
      scenario: 'A', store: w.kind, name: 'SIGKILL midway: delivered', value: delivered, unit: 'launches',
      baseline: { value: answered.size, unit: 'accepted', what: 'success answers before and after the kill' },
      ratio: delivered / Math.max(1, answered.size), target: 'none lost; duplicates <= worker concurrency (8)', met: lost === 0 && duplicates <= 8,
      note: `lost ${lost}, duplicates ${duplicates} (SALVO_LEASE_SECONDS=5)`,
    },
  ];
}
