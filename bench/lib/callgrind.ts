/**
 * A `salvo serve` under valgrind's callgrind, with instrumentation off until a measured stretch: what the
 * instruction-counting aids (accept-instructions.ts, import-instructions.ts) share. Instructions count
 * the same whatever else the machine does, which wall-clock rates on a shared machine do not.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface Callgrind {
  url: string;
  /** Where callgrind writes its dumps (cg.<pid>.<n>), for callgrind_annotate. */
  dir: string;
  /**
   * Counts the instructions `work` makes the server run: instrumentation on for it, then the same server
   * idle for `idleSeconds`, whose cost a second (its timers, polls) is taken off in proportion to how
   * long `work` took (valgrind makes that minutes).
   */
  measure(work: () => Promise<void>, idleSeconds?: number): Promise<Measured>;
  kill(): void;
}

export interface Measured {
  /** Instructions less the idle server's over as long as `work` took. */
  net: number;
  gross: number;
  idlePerSecond: number;
  seconds: number;
  /** Per thread, when started with `threads` (thread 01 is the main thread). */
  threads: (readonly [string, number])[];
}

/**
 * Starts `salvo serve` of the tree TREE (its `node scripts/build.mjs` must have run) under callgrind with
 * `env`; `flags` replaces the node flags of its bin/salvo.js's first line. A failure of the caller
 * (a timeout under valgrind's slowness) kills it, so that no server is left running under valgrind.
 */
export async function serveUnderCallgrind(tree: string, env: Record<string, string>, o: { threads?: boolean; flags?: string } = {}): Promise<Callgrind> {
  const bin = path.join(tree, 'bin/salvo.js');
  const shebang = readFileSync(bin, 'utf8').split('\n')[0].split(/\s+/);
  const out = mkdtempSync(path.join(tmpdir(), 'callgrind-'));
  const proc = spawn(
    'valgrind',
    ['--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${out}/cg.%p`, ...(o.threads ? ['--separate-threads=yes'] : []), process.execPath, ...(o.flags?.split(' ').filter(Boolean) ?? shebang.filter((a) => a.startsWith('--'))), bin, 'serve'],
    {
      env: { ...process.env, ...Object.fromEntries(shebang.filter((a) => /^[A-Z_]+=/.test(a)).map((a) => a.split('=', 2))), PORT: '0', SALVO_LOG_LEVEL: 'warn', ...env },
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
  const fail = (e: unknown) => {
    proc.kill('SIGKILL');
    console.error(e);
    process.exit(1);
  };
  process.on('uncaughtException', fail);
  process.on('unhandledRejection', fail);
  const control = (...args: string[]) => execFileSync('callgrind_control', [...args, String(proc.pid)], { stdio: 'pipe' });
  const count = (f: string) => Number(/^totals: (\d+)/m.exec(readFileSync(path.join(out, f), 'utf8'))?.[1] ?? 0);
  /** Dump `k` (1: the work, 2: idle): the total, and per thread when callgrind separated them. */
  const part = (k: number) => {
    const files = readdirSync(out).filter((f) => new RegExp(`\\.${k}(-\\d+)?$`).test(f)).sort();
    return { total: files.reduce((a, f) => a + count(f), 0), threads: files.map((f) => [f.split('-')[1] ?? '?', count(f)] as const) };
  };
  let dumps = 0;
  return {
    url,
    dir: out,
    async measure(work, idleSeconds = 20) {
      control('-z');
      control('-i', 'on');
      const t0 = performance.now();
      await work();
      control('-d');
      const seconds = (performance.now() - t0) / 1000;
      control('-z');
      await new Promise((r) => setTimeout(r, idleSeconds * 1000));
      control('-i', 'off');
      control('-d');
      const busy = part(++dumps);
      const idle = part(++dumps);
      const idlePerSecond = idle.total / idleSeconds;
      return { net: busy.total - idlePerSecond * seconds, gross: busy.total, idlePerSecond, seconds, threads: busy.threads };
    },
    kill: () => proc.kill('SIGKILL'),
  };
}

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
