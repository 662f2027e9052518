/**
 * Measuring aid (not a benchmark): bytes allocated per accepted `campaigns/triggers/start`, and the
 * young-generation collections (scavenges) they cost, on one `salvo serve` of the tree TREE (default:
 * this one, built) with SALVO_WORKERS=0. WARM triggers one at a time first (V8 is still compiling the
 * path for the first ~6,000: instruction counts taken earlier are mostly its compiler), then N
 * triggers under V8's sampling heap profiler (bench/lib/heap-sample.mjs), which counts allocations
 * that were freed again too. Prints bytes a trigger, scavenges in the window (--trace-gc) and the
 * functions that allocate most (self; names are those of the bundle, inlined callees count in their
 * caller). Unlike a rate it hardly moves with the machine's load.
 * Run: node --import tsx bench/accept-allocation.ts   (TREE=/path N=2000 WARM=6000 TOP=30)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startOne, TOKEN } from './lib/load.ts';
import { startSink } from './lib/sink.ts';
import { createWorld } from './lib/world.ts';

const TREE = path.resolve(process.env.TREE ?? new URL('..', import.meta.url).pathname);
const N = Number(process.env.N ?? 2000);
const WARM = Number(process.env.WARM ?? 6000);
const TOP = Number(process.env.TOP ?? 30);
const OUT = path.join(mkdtempSync(path.join(tmpdir(), 'heap-')), 'profile.json');
const bin = path.join(TREE, 'bin/salvo.js');
const shebang = readFileSync(bin, 'utf8').split('\n')[0].split(/\s+/);

const w = await createWorld('sqlite', 20_000, null);
const sink = await startSink();
const proc = spawn(process.execPath, [...shebang.filter((a) => a.startsWith('--')), '--trace-gc', '--import', new URL('./lib/heap-sample.mjs', import.meta.url).pathname, bin, 'serve'], {
  env: { ...process.env, ...w.env, HEAP_OUT: OUT, PORT: '0', SALVO_LOG_LEVEL: 'warn', SALVO_TOKEN: TOKEN, SALVO_SMTP_URL: sink.url, SALVO_WORKERS: '0' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let out = '';
proc.stdout!.on('data', (c) => (out += c));
proc.stderr!.on('data', (c) => (out += c));
const url = await new Promise<string>((resolve, reject) => {
  proc.stdout!.on('data', () => {
    const m = /serving the API on (http:\/\/\S+)/.exec(out);
    if (m) resolve(m[1]);
  });
  proc.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out.slice(-3000)}`)));
});
let n = 0;
async function triggers(count: number): Promise<void> {
  for (const end = n + count; n < end; n++) await startOne(url, w.campaignId, (i) => w.email((i * 7919) % w.profiles), n);
}
const until = async (file: string) => {
  while (!existsSync(file)) await new Promise((r) => setTimeout(r, 20));
};
const scavenges = () => (out.match(/Scavenge/g) ?? []).length;

await triggers(WARM);
proc.kill('SIGUSR2');
await until(`${OUT}.started`);
const before = scavenges();
await triggers(N);
const during = scavenges() - before;
proc.kill('SIGUSR2');
await until(OUT);
await new Promise((r) => setTimeout(r, 500)); // the file written whole
proc.kill('SIGKILL');
await sink.close();

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: Node[];
}
const self = new Map<string, number>();
let total = 0;
const walk = (node: Node) => {
  const f = node.callFrame;
  const key = `${f.functionName || '(anonymous)'} ${f.url.split('/').slice(-2).join('/')}:${f.lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + node.selfSize);
  total += node.selfSize;
  for (const c of node.children) walk(c);
};
walk((JSON.parse(readFileSync(OUT, 'utf8')) as { head: Node }).head);
console.log(`${Math.round(total / N).toLocaleString('en-US')} bytes allocated a trigger (sampled), ${during} scavenges over ${N} triggers after ${WARM} (tree ${TREE})`);
for (const [k, v] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP)) console.log(`${String(Math.round(v / N)).padStart(8)}  ${k}`);
process.exit(0);
