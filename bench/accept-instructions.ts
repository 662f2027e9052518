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
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
const bin = path.join(TREE, 'bin/salvo.js');
const shebang = readFileSync(bin, 'utf8').split('\n')[0].split(/\s+/);
const out = mkdtempSync(path.join(tmpdir(), 'callgrind-'));
const proc = spawn(
  'valgrind',
  ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}/cg.%p`, ...(THREADS ? ['--separate-threads=yes'] : []), process.execPath, ...(process.env.FLAGS?.split(' ').filter(Boolean) ?? shebang.filter((a) => a.startsWith('--'))), bin, 'serve'],
  {
    env: {
      ...process.env,
      ...Object.fromEntries(shebang.filter((a) => /^[A-Z_]+=/.test(a)).map((a) => a.split('=', 2))),
      ...w.env,
      PORT: '0',
      SALVO_LOG_LEVEL: 'warn',
      SALVO_TOKEN: TOKEN,
      SALVO_SMTP_URL: sink.url,
      ...(MODE === 'accept' ? { SALVO_WORKERS: '0' } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  },
);
let log = '';
proc.stderr!.on('data', (c) => (log += c));
const url = await new Promise<string>((resolve, reject) => {
  let seen = '';
  proc.stdout!.on('data', (c) => {
    seen += c;
    const m = /serving the API on (http:\/\/\S+)/.exec(seen);
    if (m) resolve(m[1]);
  });
  proc.on('exit', (code) => reject(new Error(`serve exited ${code}: ${seen}${log.slice(-3000)}`)));
});

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

// A failure (a timeout under valgrind's slowness) must not leave the server running under valgrind.
process.on('uncaughtException', (e) => {
  proc.kill('SIGKILL');
  console.error(e);
  process.exit(1);
});
process.on('unhandledRejection', (e) => {
  proc.kill('SIGKILL');
  console.error(e);
  process.exit(1);
});
const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(proc.pid)], { stdio: 'pipe' });
await triggers(0, WARM);
if (MODE === 'full') await waitDelivered(sink, launches, 600_000);
launches.clear();
control('-z');
control('-i', 'on');
const t0 = performance.now();
await triggers(1_000_000, N);
if (MODE === 'full') await waitDelivered(sink, launches, 600_000);
control('-d');
const seconds = (performance.now() - t0) / 1000;
// The same server idle for a while: what its timers (polls, upkeep) cost a second under callgrind,
// taken off the triggers' count in proportion to how long they took (valgrind makes that minutes).
const IDLE_S = Number(process.env.IDLE ?? 20);
control('-z');
await new Promise((r) => setTimeout(r, IDLE_S * 1000));
control('-i', 'off');
control('-d');
proc.kill('SIGKILL');
const count = (f: string) => Number(/^totals: (\d+)/m.exec(readFileSync(path.join(out, f), 'utf8'))?.[1] ?? 0);
/** Dump `part` (1: the triggers, 2: idle): the total, and per thread when callgrind separated them. */
const part = (k: number) => {
  const files = readdirSync(out).filter((f) => new RegExp(`\\.${k}(-\\d+)?$`).test(f)).sort();
  return { total: files.reduce((a, f) => a + count(f), 0), threads: files.map((f) => [f.split('-')[1] ?? '?', count(f)] as const) };
};
const busy = part(1);
const idle = part(2);
const idlePerSecond = idle.total / IDLE_S;
const net = busy.total - idlePerSecond * seconds;
if (THREADS) console.log(busy.threads.filter(([, n]) => n / N > 10_000).map(([t, n]) => `thread ${t}: ${Math.round(n / N).toLocaleString('en-US')}`).join('; '));
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
console.log(
  `${MODE}: ${fmt(net / N)} instructions per trigger net of idle (${fmt(busy.total / N)} gross; idle ${fmt(idlePerSecond)}/s over ${IDLE_S} s; ` +
    `${N} triggers, ${CONCURRENCY} at a time, ${WARM} warm-up, ${seconds.toFixed(0)} s under callgrind) tree ${TREE}`,
);
await sink.close();
process.exit(0);
