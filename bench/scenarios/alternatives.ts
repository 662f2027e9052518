/**
 * X. What a team would build instead of Salvo, measured beside it in the same run on the same SMTP
 * sink: on SQLite, Fastify + BullMQ on Redis (profiles in the same SQLite data); on PostgreSQL,
 * Fastify + graphile-worker (profiles in the same schema). Both do a trigger's work: the token, the
 * profile read, the job stored before the answer, the render, the send (8 at a time, 5 SMTP
 * connections), retries (bench/alternatives/). For each program and for Salvo:
 *  - accept: 50 connections for a while; only 2xx answers count, anything else is a failure;
 *  - request → inbox: an open loop at `rate`, a failure counting as an infinite latency;
 *  - exactly once: every accepted request of the accept load delivered once;
 *  - drain: `drain` triggers accepted with delivery off, then delivery started: messages a second;
 *  - peak RSS over all of it (BullMQ: plus its Redis's, a Redis of the scenario's own with AOF).
 */
import { Redis } from 'ioredis';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import path from 'node:path';
import postgres from 'postgres';
import { load, TOKEN, type LoadResult, warmUp } from '../lib/load.ts';
import { percentile, type Figure } from '../lib/report.ts';
import { startAlternative, startSalvo, type Child } from '../lib/server.ts';
import { waitDelivered, type Sink } from '../lib/sink.ts';
import type { World } from '../lib/world.ts';

const START = '/api/v1.1/campaigns/triggers/start';

/**
 * A Redis for BullMQ alone, with the persistence its production guide asks for (AOF, fsync every
 * second, no RDB snapshots in the way), in the scenario's directory: its memory is the program's,
 * and a shared Redis's settings (or its other users) cannot change the figures.
 */
async function startRedis(dir: string): Promise<{ port: number; rssMb(): number; version(): Promise<string>; stop(): Promise<void> }> {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--maxmemory-policy', 'noeviction'], { stdio: 'ignore' });
  // Ready when it takes connections (it starts in milliseconds; allow 10 s on a loaded machine).
  for (let i = 0; ; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1', () => {
        c.end();
        resolve(true);
      }).on('error', () => resolve(false));
    });
    if (up) break;
    if (i > 100) throw new Error(`redis-server did not start on port ${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    port,
    rssMb() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
      return m ? Number(m[1]) / 1024 : 0;
    },
    async version() {
      const c = new Redis({ host: '127.0.0.1', port });
      const v = /redis_version:(\S+)/.exec(await c.info('server'))?.[1] ?? '?';
      c.disconnect();
      return v;
    },
    async stop() {
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

interface Options {
  seconds: number;
  connections: number;
  instantCount: number;
  rate: number;
  drain: number;
}

interface Measured {
  accept: LoadResult;
  p50: number;
  p99: number;
  latencyFailures: number;
  accepted: number;
  delivered: number;
  duplicates: number;
  drainRate: number;
  drainFailed: number;
  rssMb: number;
}

interface System {
  name: string;
  /** A server answering `start` with a `launch-id` header that the sink sees on the mail; `delivering` false: accept only. */
  start(delivering: boolean): Promise<Child>;
  /** Memory outside the process the program needs (Redis's growth), sampled with the process's. */
  extraRssMb?(): number;
}

const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - performance.now())));

/** Samples the child's RSS plus `extra` every 100 ms until stopped; answers the peak of the sum. */
function peakRss(child: () => Child | null, extra?: () => number): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    const c = child();
    if (c) peak = Math.max(peak, c.rssMb() + (extra?.() ?? 0));
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return peak;
    },
  };
}

async function measure(sys: System, w: World, sink: Sink, o: Options, offset: number): Promise<Measured> {
  const body = (n: number) => JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email((n * 7919) % w.profiles), content: { title: 'Hello', n } });
  let current: Child | null = null;
  const rss = peakRss(() => current, sys.extraRssMb);

  // Request → inbox, open loop, after the same warm-up for every system.
  sink.reset();
  current = await sys.start(true);
  const url = current.url + START;
  const post = (n: number) => fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: body(offset + n) });
  for (let i = 0; i < 20; i++) {
    const r = await post(i);
    await r.text();
    const id = r.headers.get('launch-id');
    if (id) await sink.arrival(id, 10_000);
  }
  await new Promise((r) => setTimeout(r, 500));
  const asked = new Map<string, number>();
  let failed = 0;
  const posts: Promise<void>[] = [];
  const s0 = performance.now();
  for (let i = 0; i < o.instantCount; i++) {
    await sleepUntil(s0 + (i * 1000) / o.rate);
    const at = performance.now();
    posts.push(
      post(1000 + i).then(
        async (r) => {
          await r.text();
          const id = r.headers.get('launch-id');
          if (r.ok && id) asked.set(id, at);
          else failed++;
        },
        () => void failed++,
      ),
    );
  }
  await Promise.all(posts);
  await waitDelivered(sink, new Set(asked.keys()), 30_000);
  const lat = [...asked].map(([id, at]) => (sink.arrivals.has(id) ? sink.arrivals.get(id)!.at - at : Infinity));
  lat.push(...Array<number>(failed).fill(Infinity));
  lat.sort((a, b) => a - b);

  // Accept under load; then every success answer must arrive, once.
  sink.reset();
  await warmUp(url, { connections: o.connections, body: (n) => body(offset + 100_000 + n), delivered: () => sink.count });
  sink.reset();
  const accepted = new Set<string>();
  const accept = await load(url, { seconds: o.seconds, connections: o.connections, body: (n) => body(offset + 200_000 + n), onAnswer: (s, h) => s === 200 && h['launch-id'] && accepted.add(h['launch-id']) });
  const delivered = await waitDelivered(sink, accepted, 300_000);
  await new Promise((r) => setTimeout(r, 500)); // late duplicates
  let duplicates = 0;
  for (const id of accepted) duplicates += Math.max(0, (sink.arrivals.get(id)?.n ?? 0) - 1);
  await current.stop();

  // Drain: a backlog accepted with delivery off, then delivered.
  current = await sys.start(false);
  const fill = await load(current.url + START, { seconds: 600, amount: o.drain, connections: 20, body: (n) => body(offset + 500_000 + n) });
  await current.stop();
  sink.reset();
  current = await sys.start(true);
  const t0 = performance.now();
  await sink.waitFor(fill.ok, 600_000);
  const drainRate = (Math.min(sink.count, fill.ok) * 1000) / (performance.now() - t0);
  await current.stop();
  current = null;
  return { accept, p50: percentile(lat, 50), p99: percentile(lat, 99), latencyFailures: lat.filter((l) => l === Infinity).length, accepted: accepted.size, delivered, duplicates, drainRate, drainFailed: fill.failed, rssMb: rss.stop() };
}

function figures(w: World, salvo: Measured, alt: Measured, altName: string, durability: string): Figure[] {
  const pg = w.kind === 'postgres';
  const f = (name: string, unit: string, s: number, a: number, target: string | null, met: boolean, note?: string): Figure => ({
    scenario: 'X', store: w.kind, name, value: s, unit, baseline: { value: a, unit, what: altName }, ratio: s / a, ...(target ? { target, met } : {}), ...(note ? { note } : {}),
  });
  const clean = (m: Measured) => m.accept.failed === 0 && m.delivered === m.accepted && m.duplicates === 0 && m.latencyFailures === 0 && m.drainFailed === 0;
  const tally = (m: Measured) => `${m.accept.ok} ok, ${m.accept.failed} failed; ${m.delivered}/${m.accepted} delivered, ${m.duplicates} duplicates; ${m.latencyFailures} failed in the open loop`;
  const acceptTarget = pg ? 1.5 : 1.0;
  return [
    f('accept against the alternative', 'ok/s', salvo.accept.rps, alt.accept.rps, `>= ${acceptTarget.toFixed(1)} x, no failures`, salvo.accept.rps >= acceptTarget * alt.accept.rps && clean(salvo), `Salvo: ${tally(salvo)}. ${altName}: ${tally(alt)}. ${durability}`),
    f('accept p99 against the alternative', 'ms', salvo.accept.p99, alt.accept.p99, "<= the alternative's", salvo.accept.p99 <= alt.accept.p99),
    f('request to inbox p50 against the alternative', 'ms', salvo.p50, alt.p50, null, true),
    f('request to inbox p99 against the alternative', 'ms', salvo.p99, alt.p99, "<= the alternative's", salvo.p99 <= alt.p99),
    f('drain against the alternative', 'msg/s', salvo.drainRate, alt.drainRate, '>= 1.2 x', salvo.drainRate >= 1.2 * alt.drainRate),
    f('peak RSS against the alternative', 'MB', salvo.rssMb, alt.rssMb, "<= the alternative's", salvo.rssMb <= alt.rssMb, pg ? undefined : 'the alternative: the Node process plus its Redis'),
  ];
}

export async function alternatives(w: World, sink: Sink, o: Options): Promise<Figure[]> {
  const salvoSystem: System = { name: 'Salvo', start: (delivering) => startSalvo({ ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN, ...(delivering ? {} : { SALVO_WORKERS: '0' }) }) };
  const salvo = await measure(salvoSystem, w, sink, o, 10_000_000);
  if (w.kind === 'sqlite') {
    const redis = await startRedis(w.dataDir);
    const name = `salvo_bench_${process.pid}`;
    const client = new Redis({ host: '127.0.0.1', port: redis.port });
    const config = async (key: string) => ((await client.config('GET', key)) as string[])[1];
    const durability = `Redis ${await redis.version()} of the bench's own, appendonly=${await config('appendonly')}, appendfsync=${await config('appendfsync')}: a killed Redis loses no accepted job, a power cut up to a second (SQLite under Salvo: WAL, synchronous=NORMAL, the same promise)`;
    client.disconnect();
    const alt = await measure(
      {
        name: 'BullMQ',
        start: (delivering) => startAlternative('bullmq', { ALT_DB_FILE: path.join(w.dataDir, 'salvo.db'), ALT_DB_ID: String(w.dbId), ALT_QUEUE: name, ALT_REDIS_PORT: String(redis.port), ALT_SMTP_URL: sink.url, ALT_WORKER: delivering ? '1' : '0' }),
        extraRssMb: () => redis.rssMb(),
      },
      w, sink, o, 20_000_000,
    );
    await redis.stop();
    return figures(w, salvo, alt, 'Fastify + BullMQ (Redis)', durability);
  }
  const schema = `graphile_worker_bench_${process.pid}`;
  const sql = postgres(w.pgUrl!, { onnotice: () => {} });
  const [{ synchronous_commit }] = await sql`SELECT current_setting('synchronous_commit') AS synchronous_commit`;
  const alt = await measure(
    {
      name: 'graphile-worker',
      start: (delivering) => startAlternative('graphile', { ALT_PG_URL: w.env.SALVO_DATABASE_URL, ALT_DB_ID: String(w.dbId), ALT_QUEUE: schema, ALT_SMTP_URL: sink.url, ALT_WORKER: delivering ? '1' : '0' }),
    },
    w, sink, o, 20_000_000,
  );
  await sql.unsafe(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await sql.end();
  return figures(w, salvo, alt, 'Fastify + graphile-worker (PostgreSQL)', `PostgreSQL synchronous_commit=${synchronous_commit} for both`);
}
