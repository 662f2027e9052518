/**
 * `npm run bench` runs the scenarios of docs/performance.md on SQLite (and on PostgreSQL when
 * SALVO_BENCH_PG_URL is set), each against a baseline measured in the same run, prints a line per
 * figure ending with the ratio, and writes bench/results/latest.json. `-- --quick` runs small sizes
 * in under a minute; `-- --only A,C` picks scenarios (N, many processes, runs on PostgreSQL only); `-- --store postgres` runs one store. The soak (S, 10 minutes; 2 with --quick) runs
 * only when named: `-- --only S`.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { accept } from './scenarios/accept.ts';
import { alternatives } from './scenarios/alternatives.ts';
import { audience } from './scenarios/audience.ts';
import { fanout } from './scenarios/fanout.ts';
import { importBatch } from './scenarios/import.ts';
import { scaleOut } from './scenarios/scaleout.ts';
import { instant, instantClosedLoop } from './scenarios/instant.ts';
import { sms } from './scenarios/sms.ts';
import { soak } from './scenarios/soak.ts';
import { webhooks } from './scenarios/webhooks.ts';
import { webPush } from './scenarios/webpush.ts';
import { line, type Figure } from './lib/report.ts';
import { startSink } from './lib/sink.ts';
import { createWorld, dropWorld } from './lib/world.ts';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const only = (args[args.indexOf('--only') + 1] ?? '').split(',').filter((x) => args.includes('--only') && x);
const wants = (s: string) => only.length === 0 || only.includes(s);
const SOAK = quick ? { seconds: 120, rate: 30, profiles: 2_000 } : { seconds: 600, rate: 30, profiles: 10_000 };
// Quick: one small world for A to D, short loads; the figures are indicative, the full run is the result.
const SIZE = quick
  ? { acceptProfiles: 20_000, acceptSeconds: 2, instantCount: 100, closedCount: 150, bigProfiles: 20_000, importProfiles: 5_000, drain: 2_000, smsCount: 2_000, pushCount: 2_000, webhookCount: 2_000 }
  : { acceptProfiles: 100_000, acceptSeconds: 15, instantCount: 1000, closedCount: 500, bigProfiles: 1_000_000, importProfiles: 100_000, drain: 20_000, smsCount: 20_000, pushCount: 20_000, webhookCount: 20_000 };

const figures: Figure[] = [];
const started = Date.now();
const cpu = os.cpus();
/** Written after every scenario, so that a run cut short still leaves what it measured. */
function save(): void {
  writeFileSync(
    new URL('./results/latest.json', import.meta.url),
    JSON.stringify({ quick, finished: new Date().toISOString(), seconds: (Date.now() - started) / 1000, machine: { cpus: cpu.length, model: cpu[0]?.model, memoryGb: Math.round(os.totalmem() / 2 ** 30), node: process.version }, figures }, null, 2) + '\n',
  );
}

let lap = Date.now();
const show = (fs: Figure[]) => {
  for (const f of fs) {
    figures.push(f);
    console.log(line(f));
  }
  console.log(`  (${((Date.now() - lap) / 1000).toFixed(1)} s)`);
  lap = Date.now();
  save();
};

// `-- --store postgres` (or sqlite) runs one store only.
const store = args.includes('--store') ? args[args.indexOf('--store') + 1] : null;
const kinds = (process.env.SALVO_BENCH_PG_URL ? (['sqlite', 'postgres'] as const) : (['sqlite'] as const)).filter((k) => store === null || k === store);
const sink = await startSink();
for (const kind of kinds) {
  const pg = process.env.SALVO_BENCH_PG_URL ?? null;
  const shared = SIZE.acceptProfiles === SIZE.bigProfiles && (wants('A') || wants('B')) && (wants('C') || wants('D'));
  let small = null;
  if (wants('A') || wants('B')) {
    small = await createWorld(kind, SIZE.acceptProfiles, pg);
    // B first: A leaves a backlog of deliveries behind it.
    if (wants('B')) show(await instant(small, sink, { count: SIZE.instantCount, rate: 100 }));
    if (wants('B')) show(await instantClosedLoop(small, sink, { count: SIZE.closedCount }));
    if (wants('A')) show(await accept(small, sink, { seconds: SIZE.acceptSeconds, connections: 50 }));
    if (!shared) await dropWorld(small);
  }
  if (wants('C') || wants('D')) {
    const w = shared && small ? small : await createWorld(kind, SIZE.bigProfiles, pg);
    if (wants('D')) show(await audience(w));
    if (wants('C')) show(await fanout(w, sink));
    await dropWorld(w);
  }
  if (wants('X')) {
    const w = await createWorld(kind, 20_000, pg);
    show(await alternatives(w, sink, { seconds: SIZE.acceptSeconds, connections: 50, instantCount: SIZE.instantCount, rate: 100, drain: SIZE.drain }));
    await dropWorld(w);
  }
  if (wants('N') && kind === 'postgres') {
    const w = await createWorld(kind, SIZE.acceptProfiles, pg);
    show(await scaleOut(w, sink, { seconds: SIZE.acceptSeconds * 2, connections: 50, oneByOne: SIZE.instantCount }));
    await dropWorld(w);
  }
  if (wants('E')) show(await importBatch(kind, pg, SIZE.importProfiles));
  if (wants('M')) show(await sms(kind, pg, { count: SIZE.smsCount }));
  if (wants('P')) show(await webPush(kind, pg, SIZE.pushCount));
  if (wants('W')) show(await webhooks(kind, pg, SIZE.webhookCount));
  if (only.includes('S')) show(await soak(kind, pg, sink, SOAK));
}
await sink.close();

console.log(`bench: ${figures.length} figures in ${((Date.now() - started) / 1000).toFixed(0)} s; bench/results/latest.json written`);
