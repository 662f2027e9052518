/**
 * Measuring aid (not a benchmark): does the second core pay for scenario A on SQLite? The same load
 * (single-profile `start` by email, 50 connections, 6 s) against: one `salvo serve` (API and
 * delivery), one with SALVO_WORKERS=0 (API only: the accept path's own ceiling), one API process
 * plus a `salvo worker` process on the same SQLite file (delivery on the other core), and two
 * `salvo serve` processes on the same file (the HTTP side on both cores). Prints req/s, p99, mails
 * delivered during the load, and the API process's CPU per accepted request.
 * Run: node --import tsx bench/accept-cores.ts [one|api|api+worker|two ...]
 */
import { readFileSync } from 'node:fs';
import { load, TOKEN } from './lib/load.ts';
import { startSalvo, startWorker, type Child } from './lib/server.ts';
import { startSink } from './lib/sink.ts';
import { createWorld } from './lib/world.ts';

const START = '/api/v1.1/campaigns/triggers/start';
/** User + system CPU of a process so far, in ms (Linux /proc; clock ticks of 10 ms). */
const cpuMs = (c: Child) => {
  const f = readFileSync(`/proc/${c.proc.pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

const w = await createWorld('sqlite', 20_000, null);
const sink = await startSink();
const env = { ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN };
const body = (n: number) => JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email((n * 7919) % w.profiles), content: { title: 'A', n } });
const run = (c: Child, connections: number, offset: number) => load(c.url + START, { connections, seconds: 6, body: (n) => body(n + offset) });

for (const mode of process.argv.slice(2).length ? process.argv.slice(2) : ['one', 'api', 'api+worker', 'two']) {
  sink.reset();
  const offset = 1_000_000 * (1 + ['one', 'api', 'api+worker', 'two'].indexOf(mode));
  const api = await startSalvo(mode === 'api' || mode === 'api+worker' ? { ...env, SALVO_WORKERS: '0' } : env);
  const other = mode === 'api+worker' ? await startWorker(env) : mode === 'two' ? await startSalvo(env) : null;
  const before = cpuMs(api);
  const results = await Promise.all(mode === 'two' ? [run(api, 25, offset), run(other!, 25, offset + 500_000)] : [run(api, 50, offset)]);
  const cpu = cpuMs(api) - before;
  const rps = results.reduce((a, r) => a + r.rps, 0);
  const ok = results.reduce((a, r) => a + r.ok, 0);
  console.log(`${mode.padEnd(10)} ${rps.toFixed(0)} req/s, p99 ${Math.max(...results.map((r) => r.p99))} ms, ${sink.count} mails during the load, API process CPU ${((cpu * 1000) / Math.max(1, mode === 'two' ? results[0].ok : ok)).toFixed(0)} µs/request`);
  await other?.stop();
  await api.stop();
}
await sink.close();
