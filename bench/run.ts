/**
 * `npm run bench` runs the scenarios of docs/performance.md on SQLite (and on PostgreSQL when
 * SALVO_BENCH_PG_URL is set), each against a baseline measured in the same run, prints a line per
 * figure ending with the ratio, and writes bench/results/latest.json. `-- --quick` runs small sizes
 * in under a minute; `-- --only A,C` picks scenarios.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { accept } from './scenarios/accept.ts';
import { line, type Figure } from './lib/report.ts';
import { startSink } from './lib/sink.ts';
import { createWorld, dropWorld } from './lib/world.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = (args[args.indexOf('--only') + 1] ?? '').split(',').filter((x) => args.includes('--only') && x);
const wants = (s: string) => only.length === 0 || only.includes(s);
const SIZE = quick
  ? { acceptProfiles: 20_000, acceptSeconds: 4 }
  : { acceptProfiles: 100_000, acceptSeconds: 15 };

const figures: Figure[] = [];
const show = (fs: Figure[]) => {
  for (const f of fs) {
    figures.push(f);
    console.log(line(f));
  }
};

const started = Date.now();
const kinds: ('sqlite' | 'postgres')[] = process.env.SALVO_BENCH_PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];
const sink = await startSink();
for (const kind of kinds) {
  const pg = process.env.SALVO_BENCH_PG_URL ?? null;
  if (wants('A')) {
    const w = await createWorld(kind, SIZE.acceptProfiles, pg);
    show(await accept(w, sink, { seconds: SIZE.acceptSeconds, connections: 50 }));
    await dropWorld(w);
  }
}
await sink.close();

const cpu = os.cpus();
writeFileSync(
  new URL('./results/latest.json', import.meta.url),
  JSON.stringify({ quick, finished: new Date().toISOString(), seconds: (Date.now() - started) / 1000, machine: { cpus: cpu.length, model: cpu[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version }, figures }, null, 2) + '\n',
);
console.log(`bench: ${figures.length} figures in ${((Date.now() - started) / 1000).toFixed(0)} s; bench/results/latest.json written`);
