/** `salvo serve` (or the bare baseline server) as a child process, so the load generator does not share its event loop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The salvo command measured: this tree's, or SALVO_BENCH_TREE's (another checkout, built with
 * `node scripts/build.mjs`), so that two commits are compared by one harness, interleaved. The data
 * is still seeded by this tree's code, so the other tree must read this tree's schema.
 */
const BIN = process.env.SALVO_BENCH_TREE ? path.join(process.env.SALVO_BENCH_TREE, 'bin/salvo.js') : fileURLToPath(new URL('../../bin/salvo.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('../baseline-server.ts', import.meta.url));
const DURABLE_BASELINE = fileURLToPath(new URL('../baseline-durable-server.ts', import.meta.url));
/** What the salvo command gives node: its `#!/usr/bin/env -S NAME=value node --flag ...` line (bin/salvo.js). */
const SHEBANG = readFileSync(BIN, 'utf8').split('\n')[0].split(/\s+/);
const NODE_FLAGS = SHEBANG.filter((a) => a.startsWith('--'));
const NODE_ENV_OF_BIN = Object.fromEntries(SHEBANG.filter((a) => /^[A-Z_]+=/.test(a)).map((a) => a.split('=', 2)));

export interface Child {
  url: string;
  proc: ChildProcess;
  /** Resident memory now, in MB (Linux /proc). */
  rssMb(): number;
  /** CPU seconds used so far (user + system, Linux /proc): by the main thread, and by all others together. */
  cpuSeconds(): { main: number; others: number };
  /** Calls `f` with each line the child writes to stdout or stderr after it became ready (its log, pino JSON). */
  onLine(f: (line: string) => void): void;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<Child> {
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let isReady = false;
  const listeners: ((line: string) => void)[] = [];
  const partial = { stdout: '', stderr: '' };
  const onData = (which: 'stdout' | 'stderr') => (c: Buffer) => {
    if (!isReady) out += c.toString();
    if (listeners.length === 0) return;
    const lines = (partial[which] + c.toString()).split('\n');
    partial[which] = lines.pop()!;
    for (const l of lines) for (const f of listeners) f(l);
  };
  proc.stdout!.on('data', onData('stdout'));
  proc.stderr!.on('data', onData('stderr'));
  const url = await new Promise<string>((resolve, reject) => {
    const check = () => {
      const m = ready.exec(out);
      if (!m) return;
      isReady = true;
      proc.stdout!.off('data', check);
      resolve(m[1]);
    };
    proc.stdout!.on('data', check);
    proc.on('exit', (code) => isReady || reject(new Error(`server exited (${code}): ${out.slice(-2000)}`)));
  });
  out = '';
  const exited = new Promise<void>((r) => proc.on('exit', () => r()));
  return {
    url,
    proc,
    rssMb() {
      try {
        const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'));
        return m ? Number(m[1]) / 1024 : 0;
      } catch {
        return 0;
      }
    },
    cpuSeconds() {
      const out = { main: 0, others: 0 };
      let tasks: string[] = [];
      try {
        tasks = readdirSync(`/proc/${proc.pid}/task`);
      } catch {
        return out;
      }
      for (const tid of tasks) {
        try {
          const stat = readFileSync(`/proc/${proc.pid}/task/${tid}/stat`, 'utf8');
          // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in clock ticks (100 a second).
          const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
          out[Number(tid) === proc.pid ? 'main' : 'others'] += (Number(f[11]) + Number(f[12])) / 100;
        } catch {
          // the thread ended between the listing and the read
        }
      }
      return out;
    },
    onLine(f) {
      listeners.push(f);
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await exited;
    },
  };
}

/** `nodeArgs` (e.g. --cpu-prof) go to node itself; BENCH_NODE_ARGS adds some to every run. */
export const startSalvo = (env: Record<string, string>, nodeArgs: string[] = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)) =>
  start([...NODE_FLAGS, ...nodeArgs, BIN, 'serve'], { ...NODE_ENV_OF_BIN, PORT: '0', SALVO_LOG_LEVEL: 'warn', ...env }, /serving the API on (http:\/\/\S+)/);

/** `salvo worker` (delivery only); its `url` is the worker's name. */
export const startWorker = (env: Record<string, string>) =>
  start([...NODE_FLAGS, BIN, 'worker'], { ...NODE_ENV_OF_BIN, SALVO_LOG_LEVEL: 'warn', ...env }, /Salvo worker (\S+) is delivering/);

export const startBaseline = () => start(['--import', 'tsx', BASELINE], {}, /listening on (http:\/\/\S+)/);

/** Scenario A's durable baseline (baseline-durable-server.ts): on a copy of a SQLite database, or in a PostgreSQL schema. */
export const startDurableBaseline = (where: { dbFile: string } | { pgUrl: string }, dbId: number) =>
  start(
    ['--import', 'tsx', DURABLE_BASELINE],
    { ...('dbFile' in where ? { BASELINE_DB_FILE: where.dbFile } : { BASELINE_PG_URL: where.pgUrl }), BASELINE_DB_ID: String(dbId) },
    /listening on (http:\/\/\S+)/,
  );

/** One of the programs a team would write instead (bench/alternatives/): 'bullmq' or 'graphile'. Plain node, as their guides run them. */
export const startAlternative = (which: 'bullmq' | 'graphile', env: Record<string, string>) =>
  start(['--import', 'tsx', fileURLToPath(new URL(`../alternatives/${which}-server.ts`, import.meta.url))], env, /listening on (http:\/\/\S+)/);
