/** `salvo serve` (or the bare baseline server) as a child process, so the load generator does not share its event loop. */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const BIN = fileURLToPath(new URL('../../bin/salvo.js', import.meta.url));
const BASELINE = fileURLToPath(new URL('../baseline-server.ts', import.meta.url));

export interface Child {
  url: string;
  proc: ChildProcess;
  /** Resident memory now, in MB (Linux /proc). */
  rssMb(): number;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

async function start(args: string[], env: Record<string, string>, ready: RegExp): Promise<Child> {
  const proc = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (c: Buffer) => {
      out += c.toString();
      const m = ready.exec(out);
      if (m) resolve(m[1]);
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', (c) => (out += c.toString()));
    proc.on('exit', (code) => reject(new Error(`server exited (${code}): ${out.slice(-2000)}`)));
  });
  proc.stdout!.resume();
  proc.stderr!.resume();
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
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill(signal);
      await exited;
    },
  };
}

/** `nodeArgs` (e.g. --cpu-prof) go to node itself; BENCH_NODE_ARGS adds some to every run. */
export const startSalvo = (env: Record<string, string>, nodeArgs: string[] = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)) =>
  // The flag the salvo command and npm start give node (bin/salvo.js).
  start(['--max-semi-space-size=2', ...nodeArgs, BIN, 'serve'], { PORT: '0', SALVO_LOG_LEVEL: 'warn', ...env }, /serving the API on (http:\/\/\S+)/);

export const startBaseline = () => start(['--import', 'tsx', BASELINE], {}, /listening on (http:\/\/\S+)/);
