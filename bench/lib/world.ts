/**
 * The data benchmarks run against: a database of N profiles (each with an email subscription), a
 * resource, a template and an active api_call campaign. Seeding writes rows directly (it is set-up,
 * not a measurement): prepared statements on SQLite, multi-row inserts on PostgreSQL.
 */
import Database from 'better-sqlite3';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { normalizeProfileData } from '../../src/core/fields.ts';
import { applyProfilePatch, profileKeys } from '../../src/core/profile.ts';
import type { Database as Db } from '../../src/core/types.ts';
import { openStore } from '../../src/store/store.ts';

export interface World {
  kind: 'sqlite' | 'postgres';
  /** Environment for a `salvo serve` on this data. */
  env: Record<string, string>;
  dataDir: string;
  pgUrl: string | null;
  schema: string | null;
  dbId: number;
  resourceId: number;
  campaignId: number;
  profiles: number;
  /** The profile's email by index. */
  email(i: number): string;
}

const email = (i: number) => `u${i}@bench.example`;

/** Segment (indexed) and Group (not indexed) both split the profiles in ten. */
function profileData(i: number) {
  return { email: email(i), _fname: `User${i}`, Custom_ID: `C${i}`, Segment: i % 10, Group: i % 10 };
}

const HTML = '<html><body><h1>{apicontent.title}</h1><p>Hello {lead._fname},</p>' + '<p>Lorem ipsum dolor sit amet, consectetur adipiscing elit.</p>'.repeat(20) + '</body></html>';
export const TEMPLATE = { subject: 'News for {lead._fname}', html: HTML, text: 'Hello {lead._fname}' };

export async function createWorld(kind: 'sqlite' | 'postgres', profiles: number, pgUrl: string | null): Promise<World> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'salvo-bench-'));
  let schema: string | null = null;
  if (kind === 'postgres') {
    schema = `salvo_bench_${process.pid}_${Date.now()}`;
    const sql = postgres(pgUrl!, { onnotice: () => {} });
    await sql.unsafe(`CREATE SCHEMA ${schema}`);
    await sql.end();
  }
  const { store } = await openStore({ dataDir, databaseUrl: kind === 'postgres' ? pgUrl : null, searchPath: schema ?? undefined });
  const now = Date.now();
  const db = await store.insertDatabase(
    { name: 'bench', fields: [{ name: 'Custom_ID', type: 'string', indexed: true }, { name: 'Segment', type: 'int', indexed: true }, { name: 'Group', type: 'int', indexed: false }] },
    now,
  );
  const resource = await store.insertResource({ name: 'bench', channels: ['email', 'sms'], email: { from_email: 'news@bench.example', from_name: 'Bench' }, sms: { sender: 'BENCH' }, push: null, tracking_domain: null, resource_token: 'bench-resource-token' }, now);
  const template = await store.insertTemplate({ name: 'bench', channels: { email: TEMPLATE } }, now);
  const campaign = await store.insertCampaign(
    { name: 'bench', is_active: true, trigger_type: 'api_call', send_channel: 'email', resource_id: resource.id, db_id: db.id, content: [{ message_id: template.id }],
      skip_minutes: 0, subid: null, unconditional_sending: false, transactional: false, attributes: {}, content_filter: null, link_key: 'bench'.padEnd(32, '0') },
    now,
  );
  await store.close();
  if (kind === 'sqlite') seedSqlite(path.join(dataDir, 'salvo.db'), db, resource.id, profiles);
  else await seedPostgres(pgUrl!, schema!, db, resource.id, profiles);
  const env: Record<string, string> = kind === 'sqlite' ? { SALVO_DATA_DIR: dataDir } : { SALVO_DATA_DIR: dataDir, SALVO_DATABASE_URL: withSearchPath(pgUrl!, schema!) };
  return { kind, env, dataDir, pgUrl, schema, dbId: db.id, resourceId: resource.id, campaignId: campaign.id, profiles, email };
}

/** A schema of its own for a scenario's Salvo on PostgreSQL: the URL that uses it, and its drop. */
export async function benchSchema(pgUrl: string, prefix: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const schema = `${prefix}_${process.pid}_${Date.now()}`;
  const run = async (statement: string) => {
    const sql = postgres(pgUrl, { onnotice: () => {} });
    await sql.unsafe(statement);
    await sql.end();
  };
  await run(`CREATE SCHEMA ${schema}`);
  return { url: withSearchPath(pgUrl, schema), drop: () => run(`DROP SCHEMA ${schema} CASCADE`) };
}

/** A PostgreSQL URL whose connections use `schema`. */
export function withSearchPath(url: string, schema: string): string {
  const u = new URL(url);
  u.searchParams.set('options', `-c search_path=${schema}`);
  return u.toString();
}

function rowsOf(db: Db, resourceId: number, i: number, now: number) {
  const p = applyProfilePatch(null, normalizeProfileData(db, profileData(i)), db.id, now);
  return { p, keys: profileKeys(db, p), sub: [p.id, db.id, resourceId, 'email', p.email, null, 'subscribed', 0, now, now] as const };
}

function seedSqlite(file: string, db: Db, resourceId: number, n: number): void {
  const sqlite = new Database(file);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  const profile = sqlite.prepare('INSERT INTO profiles (id, db_id, email, phones, status, md5, xxh, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const key = sqlite.prepare('INSERT INTO profile_keys (db_id, field, key, profile_id) VALUES (?, ?, ?, ?)');
  const sub = sqlite.prepare('INSERT INTO subscriptions (profile_id, db_id, resource_id, channel, address, provider, status, priority, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)');
  const now = Date.now();
  const batch = sqlite.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) {
      const { p, keys, sub: s } = rowsOf(db, resourceId, i, now);
      profile.run(p.id, p.db_id, p.email, JSON.stringify(p.phones), p.status, p.md5, p.xxh, JSON.stringify(p.data), now, now);
      for (const k of keys) key.run(db.id, k.field, k.key, p.id);
      sub.run(...s);
    }
  });
  for (let i = 0; i < n; i += 10_000) batch(i, Math.min(n, i + 10_000));
  sqlite.close();
}

async function seedPostgres(url: string, schema: string, db: Db, resourceId: number, n: number): Promise<void> {
  const sql = postgres(withSearchPath(url, schema), { onnotice: () => {}, max: 1 });
  const now = Date.now();
  for (let from = 0; from < n; from += 5000) {
    const profiles = [];
    const keys = [];
    const subs = [];
    for (let i = from; i < Math.min(n, from + 5000); i++) {
      const { p, keys: k, sub: s } = rowsOf(db, resourceId, i, now);
      profiles.push({ id: p.id, db_id: p.db_id, email: p.email, phones: JSON.stringify(p.phones), status: p.status, md5: p.md5, xxh: p.xxh, data: JSON.stringify(p.data), created_at: now, updated_at: now });
      for (const x of k) keys.push({ db_id: db.id, field: x.field, key: x.key, profile_id: p.id });
      subs.push({ profile_id: s[0], db_id: s[1], resource_id: s[2], channel: s[3], address: s[4], provider: s[5], status: s[6], priority: s[7], created_at: s[8], updated_at: s[9] });
    }
    await sql`INSERT INTO profiles ${sql(profiles)}`;
    await sql`INSERT INTO profile_keys ${sql(keys)}`;
    await sql`INSERT INTO subscriptions ${sql(subs)}`;
  }
  // Planner statistics, as a database that has been running (autovacuum) would have them.
  await sql`ANALYZE`;
  await sql.end();
}

export async function dropWorld(w: World): Promise<void> {
  if (w.kind === 'postgres') {
    const sql = postgres(w.pgUrl!, { onnotice: () => {} });
    await sql.unsafe(`DROP SCHEMA ${w.schema} CASCADE`);
    await sql.end();
  }
}
