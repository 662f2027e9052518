/**
 * A. accept: single-profile `start` (matching by email) over a 100k-profile database, 50 connections,
 * against a bare Fastify route parsing the same JSON, and against the least a durable accept does
 * (baseline-durable-server.ts: the profile read and the launch and message writes, on a copy of the
 * same SQLite database or in copies of the PostgreSQL tables). Then the same load with the server killed by SIGKILL
 * halfway: every launch that got a success answer must reach the SMTP sink.
 */
import Database from 'better-sqlite3';
import { rmSync } from 'node:fs';
import path from 'node:path';
import type { Figure } from '../lib/report.ts';
import { load, TOKEN, warmUp } from '../lib/load.ts';
import { startBaseline, startDurableBaseline, startSalvo } from '../lib/server.ts';
import { waitDelivered, type Sink } from '../lib/sink.ts';
import type { World } from '../lib/world.ts';

const START = '/api/v1.1/campaigns/triggers/start';

export async function accept(w: World, sink: Sink, o: { seconds: number; connections: number }): Promise<Figure[]> {
  const body = (n: number) => JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email((n * 7919) % w.profiles), content: { title: 'Accepted', n } });
  const env = { ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN };

  const base = await startBaseline();
  await warmUp(base.url + START, { ...o, body });
  const baseline = await load(base.url + START, { ...o, body });
  await base.stop();
  const durable = await durableBaseline(w, o, body);

  sink.reset();
  let salvo = await startSalvo(env);
  await warmUp(salvo.url + START, { ...o, body: (n) => body(n + 10_000_000), delivered: () => sink.count });
  sink.reset();
  const accepted = new Set<string>();
  const r = await load(salvo.url + START, { ...o, body: (n) => body(n + 20_000_000), onAnswer: (s, h) => s === 200 && accepted.add(h['launch-id']) });
  await sink.waitFor(sink.count + 1, 1); // let the sink settle into the count below
  const drained = await waitDelivered(sink, accepted, 120_000);
  await salvo.stop();

  // Durability: SIGKILL in the middle of the load, restart, and count what arrives. A short lease,
  // so that what the killed server had claimed is retaken in seconds rather than a minute.
  sink.reset();
  const killable = { ...env, SALVO_LEASE_SECONDS: '5' };
  salvo = await startSalvo(killable);
  const answered = new Set<string>();
  const killAt = setTimeout(() => void salvo.stop('SIGKILL'), (o.seconds * 1000) / 2);
  await load(salvo.url + START, { ...o, body: (n) => body(n + 30_000_000), onAnswer: (s, h) => s === 200 && answered.add(h['launch-id']) });
  clearTimeout(killAt);
  salvo = await startSalvo(killable);
  const delivered = await waitDelivered(sink, answered, 120_000);
  await salvo.stop();
  let duplicates = 0;
  for (const id of answered) duplicates += Math.max(0, (sink.arrivals.get(id)?.n ?? 0) - 1);
  const lost = answered.size - delivered;

  const ratio = r.rps / baseline.rps;
  // Throughput is success answers only (load.ts); any refusal, error or timeout misses every target of the run.
  const clean = r.failed === 0;
  const failures = `${r.ok} ok, ${r.non2xx} non-2xx, ${r.errors} errors`;
  return [
    { scenario: 'A', store: w.kind, name: 'accept throughput', value: r.rps, unit: 'ok/s', baseline: { value: baseline.rps, unit: 'ok/s', what: 'bare Fastify, same JSON' }, ratio, target: '>= 0.50 of baseline, no failures', met: ratio >= 0.5 && clean, note: failures },
    {
      scenario: 'A', store: w.kind, name: 'accept throughput against a durable accept', value: r.rps, unit: 'ok/s',
      baseline: { value: durable.rps, unit: 'ok/s', what: 'bare Fastify + the profile read and launch/message writes' },
      ratio: r.rps / durable.rps, note: `durable baseline p99 ${durable.p99} ms, ${(durable.rps / baseline.rps).toFixed(2)} of bare Fastify, ${durable.failed} failed`,
    },
    { scenario: 'A', store: w.kind, name: 'accept p99 latency', value: r.p99, unit: 'ms', baseline: { value: baseline.p99, unit: 'ms', what: 'bare Fastify p99' }, ratio: r.p99 / 25, target: '<= 25 ms, no failures', met: r.p99 <= 25 && clean },
    { scenario: 'A', store: w.kind, name: 'accepted then delivered', value: drained, unit: 'launches', baseline: { value: accepted.size, unit: 'accepted', what: 'success answers' }, ratio: drained / Math.max(1, accepted.size), target: 'all', met: drained === accepted.size && clean, note: failures },
    {
      scenario: 'A', store: w.kind, name: 'SIGKILL midway: delivered', value: delivered, unit: 'launches',
      baseline: { value: answered.size, unit: 'accepted', what: 'success answers before and after the kill' },
      // What a killed process may have sent without recording it: SALVO_WORKERS sends on the wire and as many
      // outcomes waiting for their write (the dispatcher frees a send's slot while its outcome is written).
      ratio: delivered / Math.max(1, answered.size), target: 'none lost; duplicates <= sent and unrecorded at the kill (2 x SALVO_WORKERS = 16)', met: lost === 0 && duplicates <= 16,
      note: `lost ${lost}, duplicates ${duplicates} (SALVO_LEASE_SECONDS=5)`,
    },
  ];
}

/** The durable baseline's run: on SQLite on a copy of the world's database, on PostgreSQL in copies of its tables (its writes stay out of Salvo's). */
async function durableBaseline(w: World, o: { seconds: number; connections: number }, body: (n: number) => string) {
  const file = path.join(w.dataDir, 'durable-baseline.db');
  if (w.kind === 'sqlite') {
    const source = new Database(path.join(w.dataDir, 'salvo.db'));
    await source.backup(file);
    source.close();
  }
  const base = await startDurableBaseline(w.kind === 'sqlite' ? { dbFile: file } : { pgUrl: w.env.SALVO_DATABASE_URL }, w.dbId);
  await warmUp(base.url + START, { ...o, body: (n) => body(n + 40_000_000) });
  const r = await load(base.url + START, { ...o, body: (n) => body(n + 50_000_000) });
  await base.stop();
  for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true });
  return r;
}
