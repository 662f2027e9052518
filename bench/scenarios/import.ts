/**
 * E. import: profiles/import_batch of profiles with two subscriptions each (email and SMS), 1,000 per
 * request; against a raw batched INSERT of the same rows (profiles, their keys, subscriptions).
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import postgres from 'postgres';
import { normalizeProfileData } from '../../src/core/fields.ts';
import { applyProfilePatch, profileKeys } from '../../src/core/profile.ts';
import type { Figure } from '../lib/report.ts';
import { TOKEN } from '../lib/load.ts';
import { startSalvo } from '../lib/server.ts';
import { createWorld, dropWorld, withSearchPath } from '../lib/world.ts';

const BATCH = 1000;

/** Item i of an import: a new profile with an email and an SMS subscription on `resource`. */
export const importItem = (i: number, resource: number) => ({
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
    bodies.push(JSON.stringify({ token: TOKEN, db_id: w.dbId, data: Array.from({ length: Math.min(BATCH, n - from) }, (_, k) => importItem(from + k, w.resourceId)) }));
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
  const baseSec = await rawBaseline(kind, pgUrl, n, 'insert');
  // On PostgreSQL also COPY (the fastest way in): what the database and disk themselves do here.
  const copySec = kind === 'postgres' ? await rawBaseline(kind, pgUrl, n, 'copy') : null;

  const rate = n / salvoSec;
  const baseRate = n / baseSec;
  const figures: Figure[] = [
    { scenario: 'E', store: kind, name: `import_batch of ${n} profiles (2 subscriptions each)`, value: rate, unit: 'profiles/s', baseline: { value: baseRate, unit: 'profiles/s', what: 'raw batched INSERT of the same rows' }, ratio: rate / baseRate, target: '>= 20,000/s and >= 0.50 of baseline', met: rate >= 20_000 && rate / baseRate >= 0.5 && failed === 0, note: failed ? `${failed} items failed` : undefined },
  ];
  if (copySec !== null) {
    const copyRate = n / copySec;
    figures.push({ scenario: 'E', store: kind, name: `import_batch of ${n} profiles against raw COPY`, value: rate, unit: 'profiles/s', baseline: { value: copyRate, unit: 'profiles/s', what: 'raw COPY of the same rows, 1,000 per transaction' }, ratio: rate / copyRate, target: '>= 10,000/s', met: rate >= 10_000 && failed === 0 });
  }
  return figures;
}

const TEXT_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
/** A value in COPY's text format. */
const copyText = (v: unknown) => (v === null || v === undefined ? '\\N' : String(v).replace(/[\\\t\n\r]/g, (c) => TEXT_ESCAPES[c]));

async function copyInto(tx: postgres.TransactionSql, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  const into = await tx.unsafe(`COPY ${table} (${columns.join(', ')}) FROM STDIN`).writable();
  await pipeline(Readable.from([`${rows.map((r) => r.map(copyText).join('\t')).join('\n')}\n`]), into);
}

/** Seconds the raw baseline takes for the same rows: batched INSERTs (prepared statements) or, on PostgreSQL, COPY. */
async function rawBaseline(kind: 'sqlite' | 'postgres', pgUrl: string | null, n: number, how: 'insert' | 'copy'): Promise<number> {
  const b = await createWorld(kind, 0, pgUrl);
  const db = { id: b.dbId, name: 'bench', created_at: 0, fields: [{ name: 'Custom_ID', type: 'string' as const, indexed: true }, { name: 'Segment', type: 'int' as const, indexed: true }, { name: 'Group', type: 'int' as const, indexed: false }] };
  const now = Date.now();
  const rows = Array.from({ length: n }, (_, i) => {
    const { subscriptions, ...data } = importItem(i, b.resourceId);
    const p = applyProfilePatch(null, normalizeProfileData(db, data), db.id, now);
    return { p, keys: profileKeys(db, p), subs: subscriptions.map((s) => [p.id, db.id, s.resource_id, s.channel, s.email ?? s.phone, null, 'subscribed', 0, now, now]) };
  });
  let sec: number;
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
    sec = (performance.now() - t1) / 1000;
    sqlite.close();
  } else {
    const sql = postgres(withSearchPath(pgUrl!, b.schema!), { onnotice: () => {}, max: 1 });
    const SUB_COLUMNS = ['profile_id', 'db_id', 'resource_id', 'channel', 'address', 'provider', 'status', 'priority', 'created_at', 'updated_at'];
    const t1 = performance.now();
    for (let i = 0; i < n; i += BATCH) {
      const part = rows.slice(i, i + BATCH);
      await sql.begin(async (tx) => {
        if (how === 'copy') {
          await copyInto(tx, 'profiles', ['id', 'db_id', 'email', 'phones', 'status', 'md5', 'xxh', 'data', 'created_at', 'updated_at'], part.map(({ p }) => [p.id, p.db_id, p.email, JSON.stringify(p.phones), p.status, p.md5, p.xxh, JSON.stringify(p.data), now, now]));
          await copyInto(tx, 'profile_keys', ['db_id', 'field', 'key', 'profile_id'], part.flatMap(({ p, keys }) => keys.map((k) => [db.id, k.field, k.key, p.id])));
          await copyInto(tx, 'subscriptions', SUB_COLUMNS, part.flatMap(({ subs }) => subs));
          return;
        }
        await tx`INSERT INTO profiles ${tx(part.map(({ p }) => ({ id: p.id, db_id: p.db_id, email: p.email, phones: JSON.stringify(p.phones), status: p.status, md5: p.md5, xxh: p.xxh, data: JSON.stringify(p.data), created_at: now, updated_at: now })))}`;
        await tx`INSERT INTO profile_keys ${tx(part.flatMap(({ p, keys }) => keys.map((k) => ({ db_id: db.id, field: k.field, key: k.key, profile_id: p.id }))))}`;
        await tx`INSERT INTO subscriptions ${tx(part.flatMap(({ subs }) => subs.map((s) => Object.fromEntries(SUB_COLUMNS.map((c, j) => [c, s[j]])))))}`;
      });
    }
    sec = (performance.now() - t1) / 1000;
    await sql.end();
  }
  await dropWorld(b);
  return sec;
}
