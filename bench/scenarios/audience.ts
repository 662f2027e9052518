/**
 * D. audience: a custom_request `$in` of 1,000 values on an indexed field, and an equality on an
 * unindexed field, over the whole database; against a plain primary-key read of the same rows.
 */
import { audiencePages } from '../../src/engine/audience.ts';
import type { MongoQuery } from '../../src/core/mongo-query.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import type { Figure } from '../lib/report.ts';
import type { World } from '../lib/world.ts';

async function read(store: Store, db: NonNullable<Awaited<ReturnType<Store['getDatabase']>>>, q: MongoQuery) {
  const ids: string[] = [];
  let peakHeap = 0;
  const heap0 = process.memoryUsage().heapUsed;
  const t0 = performance.now();
  for await (const page of audiencePages(store, db, q, 1000)) {
    for (const p of page.profiles) ids.push(p.id);
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - heap0);
  }
  return { ms: performance.now() - t0, ids, peakHeapMb: peakHeap / 2 ** 20 };
}

/** The baseline: the same rows read by primary key, a thousand at a time. */
async function pkRead(store: Store, ids: string[]): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < ids.length; i += 1000) await store.getProfiles(ids.slice(i, i + 1000));
  return performance.now() - t0;
}

const median = async (runs: number, f: () => Promise<number>) => {
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) xs.push(await f());
  return xs.sort((a, b) => a - b)[Math.floor(runs / 2)];
};

export async function audience(w: World): Promise<Figure[]> {
  const { store } = await openStore({ dataDir: w.dataDir, databaseUrl: w.kind === 'postgres' ? w.pgUrl : null, searchPath: w.schema ?? undefined });
  const db = (await store.getDatabase(w.dbId))!;
  const values = Array.from({ length: 1000 }, (_, i) => `C${(i * 7919) % w.profiles}`);
  const indexed: MongoQuery = { Custom_ID: { $in: values } };
  await read(store, db, indexed); // warm the cache, as a running server's is
  const first = await read(store, db, indexed);
  const ms = await median(5, async () => (await read(store, db, indexed)).ms);
  const pk = await median(5, () => pkRead(store, first.ids));

  const full = await read(store, db, { Group: 3 });
  const fullPk = await pkRead(store, full.ids);
  await store.close();
  return [
    { scenario: 'D', store: w.kind, name: `$in of 1,000 on an indexed field over ${w.profiles}`, value: ms, unit: 'ms', baseline: { value: pk, unit: 'ms', what: 'primary-key read of the same rows' }, ratio: ms / pk, target: '<= 50 ms', met: ms <= 50 && first.ids.length === 1000 },
    { scenario: 'D', store: w.kind, name: `unindexed equality over ${w.profiles} (${full.ids.length} match)`, value: full.ms / 1000, unit: 's', baseline: { value: fullPk / 1000, unit: 's', what: 'primary-key read of the same rows' }, ratio: full.ms / fullPk, target: '<= 3 s, flat memory', met: full.ms <= 3000, note: `heap grew at most ${full.peakHeapMb.toFixed(0)} MB while reading (the matched ids themselves ${(full.ids.length * 80 / 2 ** 20).toFixed(0)} MB)` },
  ];
}
