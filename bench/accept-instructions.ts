/**
 * Measuring aid (not a benchmark): instructions per accepted `campaigns/triggers/start`, counted by
 * valgrind's callgrind, which counts the same whatever else the machine does (wall-clock rates on a
 * machine shared with other work do not). One `salvo serve` of the tree TREE (default: this one; its
 * `node scripts/build.mjs` must have run) on a 20k-profile SQLite world made by that tree's own
 * bench/lib/world.ts, started under callgrind with instrumentation off; WARM triggers (8 at a time)
 * warm it up; then instrumentation goes on for N triggers and off again, and the count is read from
 * callgrind's dump. MODE=accept (default) runs with SALVO_WORKERS=0: the accept path alone.
 * MODE=full delivers too (to a sink), and waits for the N mails before the dump.
 * THREADS=1 prints the count per thread too (thread 01 is the main thread).
 * FLAGS='--a --b' replaces the node flags of bin/salvo.js's first line.
 * Run: node --import tsx bench/accept-instructions.ts   (TREE=/path/of/another/worktree N=1000 WARM=400)
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startSink, waitDelivered } from './lib/sink.ts';

const TREE = path.resolve(process.env.TREE ?? new URL('..', import.meta.url).pathname);
const N = Number(process.env.N ?? 1000);
const WARM = Number(process.env.WARM ?? 400);
const MODE = process.env.MODE ?? 'accept';
/** THREADS=1: also the count per thread (the main thread, the mailer thread, V8's and libuv's helpers). */
const THREADS = process.env.THREADS === '1';
const TOKEN = 'bench-token-0123456789abcdef';

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
      const n = next++;
      const r = await fetch(`${url}/api/v1.1/campaigns/triggers/start`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email((n * 7919) % w.profiles), content: { title: 'Accepted', n } }),
      });
      await r.text();
      if (r.status !== 200) throw new Error(`trigger ${n}: ${r.status}`);
      launches.add(r.headers.get('launch-id')!);
    }
  };
  await Promise.all(Array.from({ length: 8 }, one));
}

const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(proc.pid)], { stdio: 'pipe' });
await triggers(0, WARM);
if (MODE === 'full') await waitDelivered(sink, launches, 600_000);
launches.clear();
control('-z');
control('-i', 'on');
const t0 = performance.now();
await triggers(1_000_000, N);
if (MODE === 'full') await waitDelivered(sink, launches, 600_000);
control('-i', 'off');
control('-d');
const seconds = (performance.now() - t0) / 1000;
proc.kill('SIGKILL');
const dumps = readdirSync(out).filter((f) => /\.\d+(-\d+)?$/.test(f));
let total = 0;
const perThread: string[] = [];
for (const f of dumps.sort()) {
  const n = Number(/^totals: (\d+)/m.exec(readFileSync(path.join(out, f), 'utf8'))?.[1] ?? 0);
  total += n;
  if (n / N > 10_000) perThread.push(`thread ${f.split('-')[1] ?? '?'}: ${Math.round(n / N).toLocaleString('en-US')}`);
}
if (THREADS) console.log(perThread.join('; '));
console.log(`${MODE}: ${Math.round(total / N).toLocaleString('en-US')} instructions per trigger (${N} triggers, ${WARM} warm-up, ${seconds.toFixed(0)} s under callgrind) tree ${TREE}`);
await sink.close();
process.exit(0);
