/**
 * Measuring aid (not a benchmark): where a PostgreSQL drain's time goes, per delivered message, in
 * figures that other work on the machine moves little. N triggers (default 2,000) are accepted with
 * delivery off, then one `salvo serve` delivers them to a sink, and per message it prints:
 *  - statements (transactions committed in the database: give the bench a database of its own, e.g.
 *    postgres://postgres@127.0.0.1:5432/pgdrain, or others' work is counted too);
 *  - CPU of the PostgreSQL backends serving the delivering process (by its application_name, /proc)
 *    and of that process itself (all threads);
 *  - WAL bytes (pg_current_wal_lsn before and after: the whole cluster's, so run it when nothing else writes);
 *  - heap and index pages touched (hit or read) per table of this schema, and the HOT share of updates.
 * With SALVO_BENCH_TREE set, the delivering program is that checkout's build (bench/lib/server.ts), so two
 * commits can be compared alternately; with SYSTEM=graphile it is scenario X's Fastify + graphile-worker
 * program instead (bench/alternatives/graphile-server.ts, its queue in a schema of its own).
 * Run: SALVO_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/pgdrain node --import tsx bench/pg-drain.ts
 */
import { readdirSync, readFileSync } from 'node:fs';
import postgres from 'postgres';
import { TOKEN } from './lib/load.ts';
import { startAlternative, startSalvo } from './lib/server.ts';
import { startSink } from './lib/sink.ts';
import { createWorld, dropWorld, withSearchPath } from './lib/world.ts';

const N = Number(process.env.N ?? 2000);
const pgUrl = process.env.SALVO_BENCH_PG_URL!;
const w = await createWorld('postgres', 20_000, pgUrl);
const sink = await startSink();
const sql = postgres(withSearchPath(pgUrl, w.schema!), { onnotice: () => {}, max: 1 });
const app = `salvo_drain_${process.pid}`;
const graphile = process.env.SYSTEM === 'graphile';
const queue = `graphile_worker_drain_${process.pid}`;
/** The program measured: accepting only, or delivering too. */
const start = (delivering: boolean) =>
  graphile
    ? startAlternative('graphile', { ALT_PG_URL: w.env.SALVO_DATABASE_URL, ALT_DB_ID: String(w.dbId), ALT_QUEUE: queue, ALT_SMTP_URL: sink.url, ALT_WORKER: delivering ? '1' : '0', PGAPPNAME: app })
    : startSalvo({ ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN, PGAPPNAME: app, ...(delivering ? {} : { SALVO_WORKERS: '0' }) });

/** CPU seconds (user + system) of a process, all its threads. */
function cpuOf(pid: number): number {
  let s = 0;
  let tasks: string[] = [];
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
  } catch {
    return 0;
  }
  for (const tid of tasks) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      s += (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // ended meanwhile
    }
  }
  return s;
}

const tables = ['messages', 'message_queue', 'message_bodies', 'launches', 'profiles', 'subscriptions', 'launch_attachments'];
async function stats() {
  await new Promise((r) => setTimeout(r, 1500)); // backends flush their counts about every second
  const rel = [...(await sql`SELECT relname, n_tup_upd, n_tup_hot_upd, n_tup_ins, n_tup_del,
      COALESCE(heap_blks_hit, 0) + COALESCE(heap_blks_read, 0) AS heap, COALESCE(idx_blks_hit, 0) + COALESCE(idx_blks_read, 0) AS idx,
      COALESCE(toast_blks_hit, 0) + COALESCE(toast_blks_read, 0) + COALESCE(tidx_blks_hit, 0) + COALESCE(tidx_blks_read, 0) AS toast
    FROM pg_stat_user_tables JOIN pg_statio_user_tables USING (relid, schemaname, relname) WHERE schemaname = ${w.schema!}`)];
  for (const r of await sql`SELECT relname, n_tup_upd, n_tup_hot_upd, n_tup_ins, n_tup_del, COALESCE(heap_blks_hit, 0) + COALESCE(heap_blks_read, 0) AS heap,
      COALESCE(idx_blks_hit, 0) + COALESCE(idx_blks_read, 0) AS idx, 0 AS toast
    FROM pg_stat_user_tables JOIN pg_statio_user_tables USING (relid, schemaname, relname) WHERE schemaname = ${queue}`) rel.push({ ...r, relname: `${queue}.${r.relname}` });
  const [db] = await sql`SELECT xact_commit, xact_rollback FROM pg_stat_database WHERE datname = current_database()`;
  return { rel: new Map(rel.map((r) => [r.relname as string, r])), xacts: Number(db.xact_commit) + Number(db.xact_rollback) };
}

// The backlog: accepted with delivery off.
const filler = await start(false);
let next = 0;
let accepted = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < N) {
      const n = next++;
      const r = await fetch(`${filler.url}/api/v1.1/campaigns/triggers/start`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email(n), content: { title: 'T', n } }) });
      await r.text();
      if (r.ok) accepted++;
    }
  }),
);
await filler.stop();
await sql`CHECKPOINT`.catch(() => {}); // the backlog's own writes not counted in the drain's WAL (full-page images after a checkpoint are, as in any run)
const before = await stats();
const [{ lsn: lsn0 }] = await sql`SELECT pg_current_wal_lsn()::text AS lsn`;

sink.reset();
const salvo = await start(true);
const t0 = performance.now();
const started = salvo.cpuSeconds(); // its start (modules loaded, migrations checked) is not the drain's
const backends = new Map<number, number>(); // pid -> last CPU seen
const watch = async () => {
  for (const r of await sql`SELECT pid FROM pg_stat_activity WHERE application_name = ${app}`) backends.set(r.pid as number, cpuOf(r.pid as number));
};
const timer = setInterval(() => void watch().catch(() => {}), 100);
await sink.waitFor(accepted, 600_000);
const seconds = (performance.now() - t0) / 1000;
clearInterval(timer);
await new Promise((r) => setTimeout(r, 300)); // the last outcomes recorded
await watch();
const ended = salvo.cpuSeconds();
const salvoCpu = { main: ended.main - started.main, others: ended.others - started.others };
const pgCpu = [...backends.keys()].reduce((s, pid) => s + (cpuOf(pid) || backends.get(pid)!), 0);
const [{ wal }] = await sql`SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), ${lsn0}::pg_lsn) AS wal`;
await salvo.stop();
const after = await stats();

const per = (x: number) => (x / accepted).toFixed(2);
const lines = [
  `${sink.count} of ${accepted} delivered in ${seconds.toFixed(2)} s: ${(accepted / seconds).toFixed(0)} msg/s (process start included)`,
  `per message: ${per(after.xacts - before.xacts - 1)} transactions, PostgreSQL backends ${((1000 * pgCpu) / accepted).toFixed(3)} ms CPU (${backends.size} backends), salvo ${((1000 * (salvoCpu.main + salvoCpu.others)) / accepted).toFixed(3)} ms CPU (main thread ${((1000 * salvoCpu.main) / accepted).toFixed(3)}), WAL ${per(Number(wal))} bytes`,
];
let heap = 0;
let idx = 0;
for (const t of [...tables, ...[...after.rel.keys()].filter((k) => k.startsWith(queue))]) {
  const a = after.rel.get(t);
  const b = before.rel.get(t);
  if (!a || !b) continue;
  const d = (k: string) => Number(a[k]) - Number(b[k]);
  heap += d('heap') + d('toast');
  idx += d('idx');
  if (d('heap') + d('idx') + d('n_tup_upd') + d('n_tup_ins') === 0) continue;
  lines.push(`  ${t}: heap ${per(d('heap'))}, index ${per(d('idx'))}, toast ${per(d('toast'))} pages; ${per(d('n_tup_ins'))} inserts, ${per(d('n_tup_upd'))} updates (${((100 * d('n_tup_hot_upd')) / Math.max(1, d('n_tup_upd'))).toFixed(0)} % HOT), ${per(d('n_tup_del'))} deletes`);
}
lines.push(`  all: heap ${per(heap)}, index ${per(idx)} pages a message`);
console.log(lines.join('\n'));
if (graphile) await sql.unsafe(`DROP SCHEMA IF EXISTS ${queue} CASCADE`);
await sql.end();
await sink.close();
await dropWorld(w);
