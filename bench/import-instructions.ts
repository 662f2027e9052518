/**
 * Measuring aid (not a benchmark): instructions per imported profile through `profiles/import_batch`,
 * counted by valgrind's callgrind (bench/lib/callgrind.ts), as scenario E sends them: 1,000 new profiles
 * a request, each with an email and an SMS subscription. One `salvo serve` of the tree TREE (default: this
 * one; its `node scripts/build.mjs` must have run) on an empty world made by that tree's bench/lib/world.ts;
 * WARM requests warm it up, then N are counted, one at a time (what the idle server does a second is printed beside).
 * KIND=postgres (with SALVO_BENCH_PG_URL) counts Salvo's process only: PostgreSQL's work is in its own.
 * THREADS=1 prints the count per thread too.
 * Run: node --import tsx bench/import-instructions.ts   (TREE=/path/of/another/worktree N=5 WARM=3)
 */
import path from 'node:path';
import { fmt, serveUnderCallgrind } from './lib/callgrind.ts';
import { importItem } from './scenarios/import.ts';

const TREE = path.resolve(process.env.TREE ?? new URL('..', import.meta.url).pathname);
const N = Number(process.env.N ?? 5);
const WARM = Number(process.env.WARM ?? 3);
const BATCH = 1000;
const KIND = (process.env.KIND ?? 'sqlite') as 'sqlite' | 'postgres';
const THREADS = process.env.THREADS === '1';
const TOKEN = 'bench-token-0123456789abcdef';

const { createWorld, dropWorld } = (await import(path.join(TREE, 'bench/lib/world.ts'))) as typeof import('./lib/world.ts');
const w = await createWorld(KIND, 0, KIND === 'postgres' ? process.env.SALVO_BENCH_PG_URL! : null);
const server = await serveUnderCallgrind(TREE, { ...w.env, SALVO_TOKEN: TOKEN, SALVO_WORKERS: '0' }, { threads: THREADS, flags: process.env.FLAGS });

async function batches(from: number, count: number): Promise<void> {
  for (let b = from; b < from + count; b++) {
    const data = Array.from({ length: BATCH }, (_, k) => importItem(b * BATCH + k, w.resourceId));
    const r = await fetch(`${server.url}/api/v1.1/profiles/import_batch`, { method: 'POST', body: JSON.stringify({ token: TOKEN, db_id: w.dbId, data }) });
    const answer = (await r.json()) as { data: { profile_id?: string }[] };
    if (r.status !== 200 || answer.data.some((d) => !d.profile_id)) throw new Error(`batch ${b}: ${r.status} ${JSON.stringify(answer).slice(0, 300)}`);
  }
}

await batches(0, WARM);
const m = await server.measure(() => batches(WARM, N), Number(process.env.IDLE ?? 10));
server.kill();
const profiles = N * BATCH;
if (THREADS) console.log(m.threads.filter(([, n]) => n / profiles > 1_000).map(([t, n]) => `thread ${t}: ${fmt(n / profiles)}`).join('; '));
// Gross, not net of idle: a collection the requests left running finishes in the idle window, and taking the
// idle rate off in proportion to the requests' time (minutes under valgrind) took it off six times over.
console.log(
  `import (${KIND}): ${fmt(m.gross / profiles)} instructions per profile (${N} requests of ${BATCH}, ${WARM} warm-up, ${m.seconds.toFixed(0)} s under callgrind; ` +
    `the idle server: ${fmt(m.idlePerSecond)}/s) tree ${TREE}; dumps in ${server.dir}`,
);
await dropWorld(w);
process.exit(0);
