/**
 * E. import: profiles/import_batch of profiles with two subscriptions each (email and SMS), 1,000 per
 * request; against a raw batched INSERT of the same rows (profiles, their keys, subscriptions).
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import postgres from 'postgres';
import { normalizeProfileData } from '../../src/core/fields.ts';
import { applyProfilePatch, profileKeys } from '../../src/core/profile.ts';
import type { Figure } from '../lib/report.ts';
import { TOKEN } from '../lib/load.ts';
import { startSalvo } from '../lib/server.ts';
import { createWorld, dropWorld, withSearchPath } from '../lib/world.ts';

const BATCH = 1000;

const item = (i: number, resource: number) => ({
  email: `imp${i}@bench.example`,
  phones: [`+7900${String(i).padStart(7, '0')}`],
  _fname: `Imported${i}`,
  Custom_ID: `I${i}`,
  Segment: i % 10,
  Group: i % 10,
  subscriptions: [
    { resource_id: resource, channel: 'email', email: `imp${i}@bench.example` },
    { resource_id: resource, channel: 'sms', phone: `+7900${String(i).padStart(7, '0')}` },
  ],
});

export async function importBatch(kind: 'sqlite' | 'postgres', pgUrl: string | null, n: number): Promise<Figure[]> {
  // Salvo, through HTTP.
  const w = await createWorld(kind, 0, pgUrl);
  const salvo = await startSalvo({ ...w.env, SALVO_TOKEN: TOKEN, SALVO_WORKERS: '0' });
  const bodies: string[] = [];
  for (let from = 0; from < n; from += BATCH) {
    bodies.push(JSON.stringify({ token: TOKEN, db_id: w.dbId, data: Array.from({ length: Math.min(BATCH, n - from) }, (_, k) => item(from + k, w.resourceId)) }));
  }
  const t0 = performance.now();
  let failed = 0;
  for (const body of bodies) {
    const r = (await (await fetch(`${salvo.url}/api/v1.1/profiles/import_batch`, { method: 'POST', body })).json()) as { data: { profile_id?: string }[] };
    failed += r.data.filter((d) => !d.profile_id).length;
  }
  const salvoSec = (performance.now() - t0) / 1000;
  await salvo.stop();
  await dropWorld(w);

  // Baseline: the same rows, prepared before the clock starts, inserted in batches of the same size.
  const b = await createWorld(kind, 0, pgUrl);
  const db = { id: b.dbId, name: 'bench', created_at: 0, fields: [{ name: 'Custom_ID', type: 'string' as const, indexed: true }, { name: 'Segment', type: 'int' as const, indexed: true }, { name: 'Group', type: 'int' as const, indexed: false }] };
  const now = Date.now();
  const rows = Array.from({ length: n }, (_, i) => {
    const { subscriptions, ...data } = item(i, b.resourceId);
    const p = applyProfilePatch(null, normalizeProfileData(db, data), db.id, now);
    return { p, keys: profileKeys(db, p), subs: subscriptions.map((s) => [p.id, db.id, s.resource_id, s.channel, s.email ?? s.phone, null, 'subscribed', 0, now, now]) };
  });
  let baseSec: number;
  if (kind === 'sqlite') {
    const sqlite = new Database(path.join(b.dataDir, 'salvo.db'));
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
    const profile = sqlite.prepare('INSERT INTO profiles (id, db_id, email, phones, status, md5, xxh, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const key = sqlite.prepare('INSERT INTO profile_keys (db_id, field, key, profile_id) VALUES (?, ?, ?, ?)');
    const sub = sqlite.prepare('INSERT INTO subscriptions (profile_id, db_id, resource_id, channel, address, provider, status, priority, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
    const batch = sqlite.transaction((part: typeof rows) => {
      for (const { p, keys, subs } of part) {
        profile.run(p.id, p.db_id, p.email, JSON.stringify(p.phones), p.status, p.md5, p.xxh, JSON.stringify(p.data), now, now);
        for (const k of keys) key.run(db.id, k.field, k.key, p.id);
        for (const s of subs) sub.run(...s);
      }
    });
    const t1 = performance.now();
    for (let i = 0; i < n; i += BATCH) batch(rows.slice(i, i + BATCH));
    baseSec = (performance.now() - t1) / 1000;
    sqlite.close();
  } else {
    const sql = postgres(withSearchPath(pgUrl!, b.schema!), { onnotice: () => {}, max: 1 });
    const t1 = performance.now();
    for (let i = 0; i < n; i += BATCH) {
      const part = rows.slice(i, i + BATCH);
      await sql.begin(async (tx) => {
        await tx`INSERT INTO profiles ${tx(part.map(({ p }) => ({ id: p.id, db_id: p.db_id, email: p.email, phones: JSON.stringify(p.phones), status: p.status, md5: p.md5, xxh: p.xxh, data: JSON.stringify(p.data), created_at: now, updated_at: now })))}`;
        await tx`INSERT INTO profile_keys ${tx(part.flatMap(({ p, keys }) => keys.map((k) => ({ db_id: db.id, field: k.field, key: k.key, profile_id: p.id }))))}`;
        await tx`INSERT INTO subscriptions ${tx(part.flatMap(({ subs }) => subs.map((s) => ({ profile_id: s[0], db_id: s[1], resource_id: s[2], channel: s[3], address: s[4], provider: s[5], status: s[6], priority: s[7], created_at: s[8], updated_at: s[9] }))))}`;
      });
    }
    baseSec = (performance.now() - t1) / 1000;
    await sql.end();
  }
  await dropWorld(b);

  const rate = n / salvoSec;
  const baseRate = n / baseSec;
  return [
    { scenario: 'E', store: kind, name: `import_batch of ${n} profiles (2 subscriptions each)`, value: rate, unit: 'profiles/s', baseline: { value: baseRate, unit: 'profiles/s', what: 'raw batched INSERT of the same rows' }, ratio: rate / baseRate, target: '>= 20,000/s and >= 0.50 of baseline', met: rate >= 20_000 && rate / baseRate >= 0.5 && failed === 0, note: failed ? `${failed} items failed` : undefined },
  ];
}
