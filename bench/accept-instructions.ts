/**
 * Measuring aid (not a benchmark): instructions per accepted `campaigns/triggers/start`, counted by
 * valgrind's callgrind, which counts the same whatever else the machine does (wall-clock rates on a
 * machine shared with other work do not). One `salvo serve` of the tree TREE (default: this one; its
 * `node scripts/build.mjs` must have run) on a 20k-profile SQLite world made by that tree's own
 * bench/lib/world.ts, started under callgrind with instrumentation off; WARM triggers
 * warm it up (6,000: what V8 still compiles after fewer is counted too); then instrumentation goes on for N triggers and off again, and the count is read from
 * callgrind's dump, less what the same server does idle (its timers) over as long as the triggers
 * took. MODE=accept (default) runs with SALVO_WORKERS=0: the accept path alone.
 * MODE=full delivers too (to a sink), and waits for the N mails before the dump.
 * THREADS=1 prints the count per thread too (thread 01 is the main thread).
 * FLAGS='--a --b' replaces the node flags of bin/salvo.js's first line.
 * Run: node --import tsx bench/accept-instructions.ts   (TREE=/path/of/another/worktree N=1000 WARM=6000)
 */
import path from 'node:path';
import { fmt, serveUnderCallgrind } from './lib/callgrind.ts';
import { startOne, TOKEN } from './lib/load.ts';
import { startSink, waitDelivered } from './lib/sink.ts';

const TREE = path.resolve(process.env.TREE ?? new URL('..', import.meta.url).pathname);
const N = Number(process.env.N ?? 1000);
/**
 * Warm-up triggers before the count. V8 goes on optimizing the path for about 6,000 triggers: after
 * 400 (the default until 2026-12-08) nearly half of the count was its compiler (docs/performance-log.md).
 */
const WARM = Number(process.env.WARM ?? 6000);
const MODE = process.env.MODE ?? 'accept';
/** THREADS=1: also the count per thread (the main thread, the mailer thread, V8's and libuv's helpers). */
const THREADS = process.env.THREADS === '1';
/**
 * Triggers in flight at once (CONC, default 1). One at a time, each trigger is a group commit of its
 * own: with several, how many share a commit depends on how fast the server runs against the client,
 * which the machine's load changes, and the count moved by 10 % from run to run with 8.
 */
const CONCURRENCY = Number(process.env.CONC ?? 1);

const { createWorld } = (await import(path.join(TREE, 'bench/lib/world.ts'))) as typeof import('./lib/world.ts');
const w = await createWorld('sqlite', 20_000, null);
const sink = await startSink();
const server = await serveUnderCallgrind(
  TREE,
  { ...w.env, SALVO_TOKEN: TOKEN, SALVO_SMTP_URL: sink.url, ...(MODE === 'accept' ? { SALVO_WORKERS: '0' } : {}) },
  { threads: THREADS, flags: process.env.FLAGS },
);
const url = server.url;

const launches = new Set<string>();
async function triggers(from: number, count: number): Promise<void> {
  let next = from;
  const one = async () => {
    while (next < from + count) {
      launches.add(await startOne(url, w.campaignId, (i) => w.email((i * 7919) % w.profiles), next++));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, one));
}

await triggers(0, WARM);
if (MODE === 'full') await waitDelivered(sink, launches, 600_000);
launches.clear();
const IDLE_S = Number(process.env.IDLE ?? 20);
const m = await server.measure(async () => {
  await triggers(1_000_000, N);
  if (MODE === 'full') await waitDelivered(sink, launches, 600_000);
}, IDLE_S);
server.kill();
if (THREADS) console.log(m.threads.filter(([, n]) => n / N > 10_000).map(([t, n]) => `thread ${t}: ${fmt(n / N)}`).join('; '));
console.log(
  `${MODE}: ${fmt(m.net / N)} instructions per trigger net of idle (${fmt(m.gross / N)} gross; idle ${fmt(m.idlePerSecond)}/s over ${IDLE_S} s; ` +
    `${N} triggers, ${CONCURRENCY} at a time, ${WARM} warm-up, ${m.seconds.toFixed(0)} s under callgrind) tree ${TREE}`,
);
await sink.close();
process.exit(0);
