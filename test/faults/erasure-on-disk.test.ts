/**
 * Issue 23's "done when" for erasure: after profiles/delete, the erased address is nowhere in the store's
 * files. SQLite: the .db and -wal files read as bytes after a checkpoint (freed pages are zeroed by
 * secure_delete, the WAL's old frames go with the truncating checkpoint the erasure runs). PostgreSQL: no
 * row of any table of the schema holds it as text (dead tuples stay in the files until VACUUM: docs/operations.md).
 * Also logs the write cost of secure_delete: an import_batch of 5,000 profiles with it off and on.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import postgres from 'postgres';
import { driverOf } from '../../src/store/store.ts';
import { addCampaign } from '../fixture.ts';
import { eventually, ok, PG_URL, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';

const ADDRESS = 'zq7-erase-me-4f1c@example.org';

/** The files of the SQLite store (salvo.db, its -wal and -shm) that hold the address's bytes, in ASCII or UTF-16. */
function filesHolding(dir: string, text: string): string[] {
  const needles = [Buffer.from(text, 'utf8'), Buffer.from(text, 'utf16le')];
  return readdirSync(dir)
    .filter((f) => f.startsWith('salvo.db'))
    .filter((f) => {
      const bytes = readFileSync(path.join(dir, f));
      return needles.some((n) => bytes.includes(n));
    });
}

async function setUp(s: TestServer) {
  const db = ok(await s.call('databases/add', { name: 'erasure' })).data.id;
  const resource = ok(await s.call('resources/add', { name: 'Erasure', channels: ['email'], email: { from_email: 'shop@example.com' } })).data.id;
  const campaign = await addCampaign(s, { name: 'Erasure', db, resource, email: { subject: 'Hi {lead.email}', text: 'For {lead.email}' } });
  return { db, resource, campaign };
}

for (const kind of STORE_KINDS) {
  describe(`an erased profile leaves nothing on disk (${kind})`, () => {
    let s: TestServer;
    let shop: Awaited<ReturnType<typeof setUp>>;
    before(async () => {
      // Workers on, no SMTP: the message is rendered and captured in the outbox, as much of the address as a store holds.
      s = await startServer({ kind, workers: true });
      shop = await setUp(s);
    });
    after(() => s?.close());

    test('imported, sent, erased: the address is in no file (SQLite) or row (PostgreSQL)', async () => {
      ok(await s.call('profiles/import', { db_id: shop.db, data: { email: ADDRESS, _fname: 'Erin', subscriptions: [{ resource_id: shop.resource, channel: 'email', email: ADDRESS }] } }));
      ok(await s.call('campaigns/triggers/start', { id: shop.campaign, email: ADDRESS }));
      await eventually(async () => ok(await s.call('outbox/list', { recipient: ADDRESS })).data.length === 1, 10_000, 'the outbox capture');
      if (kind === 'sqlite') assert.ok(filesHolding(s.config.dataDir, ADDRESS).length > 0, 'before the erasure the files hold it (the search works)');

      ok(await s.call('profiles/delete', { db_id: shop.db, email: ADDRESS }));

      if (kind === 'sqlite') {
        // What a checkpoint leaves: the WAL copied into the database file (PASSIVE, as the checkpoint thread does).
        await driverOf(s.app.store).exec('PRAGMA wal_checkpoint(PASSIVE)');
        assert.deepEqual(filesHolding(s.config.dataDir, ADDRESS), []);
        return;
      }
      const sql = postgres(PG_URL!, { onnotice: () => {}, max: 1 });
      try {
        const schema = (await driverOf(s.app.store).get<{ s: string }>('SELECT current_schema() AS s'))!.s;
        const tables = await sql<{ table_name: string }[]>`SELECT table_name FROM information_schema.tables WHERE table_schema = ${schema} AND table_type = 'BASE TABLE'`;
        assert.ok(tables.length > 10);
        const holding: string[] = [];
        for (const { table_name } of tables) {
          const [row] = await sql.unsafe(`SELECT COUNT(*)::int AS n FROM "${schema}"."${table_name}" t WHERE t::text ILIKE $1`, [`%${ADDRESS}%`]);
          if (row.n > 0) holding.push(table_name);
        }
        assert.deepEqual(holding, []);
      } finally {
        await sql.end();
      }
    });

    if (kind === 'sqlite') {
      test('secure_delete write cost: import_batch of 5,000 profiles, off then on (logged, not asserted)', async () => {
        const driver = driverOf(s.app.store);
        const batch = (tag: string) => Array.from({ length: 1000 }, (_, i) => ({ email: `${tag}${i}@example.com`, _fname: `Name ${i}`, subscriptions: [{ resource_id: shop.resource, channel: 'email', email: `${tag}${i}@example.com` }] }));
        const timed = async (tag: string) => {
          const started = performance.now();
          // Imported twice: the second pass rewrites every profile, the case where freed content is overwritten.
          for (const pass of [0, 1]) for (let k = 0; k < 5; k++) ok(await s.call('profiles/import_batch', { db_id: shop.db, data: batch(`${tag}${k}x`).map((p) => ({ ...p, _fname: `${p._fname} ${pass}` })) }));
          return Math.round(performance.now() - started);
        };
        await timed('warm');
        const runs: Record<'off' | 'on', number[]> = { off: [], on: [] };
        // Alternated, so that a store growing from run to run weighs on both alike.
        for (const round of [1, 2]) {
          for (const mode of ['off', 'on'] as const) {
            await driver.exec(`PRAGMA secure_delete = ${mode.toUpperCase()}`);
            runs[mode].push(await timed(`${mode}${round}`));
          }
        }
        console.log(`import_batch of 5,000 profiles (inserted, then updated), ms per run: secure_delete off ${runs.off.join(', ')}; on ${runs.on.join(', ')}`);
      });
    }
  });
}
