/**
 * Measuring aid (not a benchmark): what delivering a message costs PostgreSQL's `messages` table.
 * N triggers (default 2,000) on a 20k-profile world, each delivered to a sink by one `salvo serve`;
 * then the table's statistics: row updates per message, the share of them that were HOT (no index
 * touched: possible only when no indexed column, partial-index predicate included, changes), and
 * the indexes an update that is not HOT must write.
 * Run: SALVO_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test node --import tsx bench/pg-updates.ts
 */
import postgres from 'postgres';
import { TOKEN } from './lib/load.ts';
import { startSalvo } from './lib/server.ts';
import { startSink, waitDelivered } from './lib/sink.ts';
import { createWorld, dropWorld, withSearchPath } from './lib/world.ts';

const N = Number(process.env.N ?? 2000);
const pgUrl = process.env.SALVO_BENCH_PG_URL!;
const w = await createWorld('postgres', 20_000, pgUrl);
const sink = await startSink();
const sql = postgres(withSearchPath(pgUrl, w.schema!), { onnotice: () => {}, max: 1 });
const stats = async () => {
  await new Promise((r) => setTimeout(r, 1500)); // other backends flush their counts about every second
  const [r] = await sql`SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'messages' AND schemaname = ${w.schema!}`;
  return { ins: Number(r.n_tup_ins), upd: Number(r.n_tup_upd), hot: Number(r.n_tup_hot_upd) };
};
const salvo = await startSalvo({ ...w.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN });
const before = await stats();
const launches = new Set<string>();
let next = 0;
await Promise.all(
  Array.from({ length: 8 }, async () => {
    while (next < N) {
      const n = next++;
      const r = await fetch(`${salvo.url}/api/v1.1/campaigns/triggers/start`, { method: 'POST', body: JSON.stringify({ token: TOKEN, id: w.campaignId, email: w.email(n), content: { title: 'T', n } }) });
      await r.text();
      if (r.ok) launches.add(r.headers.get('launch-id')!);
    }
  }),
);
const delivered = await waitDelivered(sink, launches, 300_000);
await new Promise((r) => setTimeout(r, 1000)); // the last outcomes recorded
await salvo.stop();
const after = await stats();
const indexes = await sql`SELECT indexname FROM pg_indexes WHERE tablename = 'messages' AND schemaname = ${w.schema!} ORDER BY indexname`;
const upd = after.upd - before.upd;
console.log(
  `${delivered} of ${launches.size} delivered; messages: ${after.ins - before.ins} inserts, ${upd} updates (${(upd / delivered).toFixed(2)} per message), ` +
    `${after.hot - before.hot} HOT (${((100 * (after.hot - before.hot)) / Math.max(1, upd)).toFixed(0)} %); ${indexes.length} indexes: ${indexes.map((i) => i.indexname).join(', ')}`,
);
await sql.end();
await sink.close();
await dropWorld(w);
