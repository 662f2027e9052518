/**
 * `salvo backup FILE` while `salvo serve` (the built bin) runs a 10,000-message fan-out to the outbox:
 * the copy holds every message the server had made and captured before the backup began, `salvo
 * migrate` opens it, an existing FILE is refused without --force, and a PostgreSQL store is answered
 * with the pg_dump command.
 */
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createWorld, type World } from '../bench/lib/world.ts';
import { ensureBuilt, SALVO_BIN as BIN } from './built.ts';
import { eventually, tempDir } from './helpers.ts';

const TOKEN = 'backup-test-token-0123456789';
const tmp = tempDir();

function salvo(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

interface LaunchCounts {
  total: number;
  complete: boolean;
  counts: Record<string, number>;
}

describe('salvo backup', { timeout: 300_000 }, () => {
  let world: World;
  let server: ReturnType<typeof spawn>;
  let url: string;

  const call = async (method: string, body: Record<string, unknown>) => {
    const res = await fetch(`${url}/api/v1.1/${method}`, { method: 'POST', body: JSON.stringify({ token: TOKEN, ...body }) });
    return { headers: res.headers, body: (await res.json()) as { error: number; data: LaunchCounts } };
  };

  before(async () => {
    await ensureBuilt();
    world = await createWorld('sqlite', 10_000, null);
    server = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { env: { ...process.env, ...world.env, SALVO_TOKEN: TOKEN, SALVO_LOG_LEVEL: 'warn' } });
    let out = '';
    url = await new Promise<string>((resolve, reject) => {
      server.stdout!.on('data', (c) => {
        out += c;
        const m = /serving the API on (http:\/\/\S+)/.exec(out);
        if (m) resolve(m[1]);
      });
      server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
    });
  });

  after(async () => {
    server?.kill('SIGTERM');
    if (world) rmSync(world.dataDir, { recursive: true, force: true });
    tmp.remove();
  });

  it('copies, during a fan-out, every message made and captured before it began; migrate opens the copy', async () => {
    // Every profile of the database: one launch of 10,000 messages, captured in the outbox (no SALVO_SMTP_URL).
    const started = await call('campaigns/triggers/start', { id: world.campaignId, custom_request: { Segment: { $in: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] } }, content: { title: 'Hello' } });
    assert.equal(started.body.error, 0, JSON.stringify(started.body));
    const launchId = Number(started.headers.get('launch-id'));
    assert.ok(launchId > 0, 'the start is acknowledged with its launch id');

    // Some way into the fan-out, what the server acknowledges having made and captured is recorded.
    const before = await eventually(async () => {
      const l = (await call('launches/get', { id: launchId })).body.data;
      return l.counts.captured >= 1000 && l;
    }, 120_000, '1,000 messages captured');
    assert.equal(before.complete, false, 'the fan-out is still writing when the backup begins');

    const file = path.join(tmp.dir, 'salvo-backup.db');
    const backup = salvo(['backup', file, '--data-dir', world.dataDir]);
    assert.equal(backup.code, 0, backup.stderr);
    assert.match(backup.stdout, /^backed up .*salvo\.db to .*salvo-backup\.db \([\d.]+ MB in [\d.]+ s\)/);
    assert.match(backup.stderr, /To restore it: stop Salvo, copy the file to .*salvo\.db .*run salvo migrate, start Salvo/);
    const after = (await call('launches/get', { id: launchId })).body.data;
    assert.ok(after.counts.captured > before.counts.captured, 'the server went on capturing while the backup ran');

    // The copy, in a data directory of its own, opens with migrate (nothing to apply: its schema is the server's).
    const restored = path.join(tmp.dir, 'restored');
    mkdirSync(restored);
    copyFileSync(file, path.join(restored, 'salvo.db'));
    const migrate = salvo(['migrate', '--data-dir', restored]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stdout, /is up to date/);

    const db = new Database(path.join(restored, 'salvo.db'), { readonly: true });
    try {
      assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      const n = (sql: string) => (db.prepare(sql).get(launchId) as { n: number }).n;
      assert.equal(n('SELECT count(*) AS n FROM launches WHERE id = ?'), 1, 'the launch is in the copy');
      const made = n('SELECT count(*) AS n FROM messages WHERE launch_id = ?');
      const captured = n("SELECT count(*) AS n FROM messages WHERE launch_id = ? AND status = 'captured'");
      const withoutCopy = n("SELECT count(*) AS n FROM messages m WHERE m.launch_id = ? AND m.status = 'captured' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = m.id)");
      assert.ok(made >= before.total, `messages made before the backup: ${before.total}, in the copy: ${made}`);
      assert.ok(captured >= before.counts.captured, `messages captured before the backup: ${before.counts.captured}, in the copy: ${captured}`);
      // The outbox row is written before the message's outcome, so a copy may hold a few rows of messages still `sending`, never the reverse.
      assert.equal(withoutCopy, 0, 'each captured message has its outbox copy');
    } finally {
      db.close();
    }
  });

  it('refuses an existing file unless --force, and replaces it with --force', () => {
    const file = path.join(tmp.dir, 'twice.db');
    assert.equal(salvo(['backup', file, '--data-dir', world.dataDir]).code, 0);
    const again = salvo(['backup', file, '--data-dir', world.dataDir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^salvo: backup: .*twice\.db exists; add --force to replace it$/m);
    assert.equal(salvo(['backup', '--force', file, '--data-dir', world.dataDir]).code, 0);
  });

  it('answers a PostgreSQL store with the pg_dump command to use, and exit code 1', () => {
    const r = salvo(['backup', path.join(tmp.dir, 'pg.dump'), '--database-url', 'postgres://salvo:secret@db.example:5432/salvo']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /pg_dump --format=custom --file '.*pg\.dump' 'postgres:\/\/salvo:PASSWORD@db\.example:5432\/salvo'/);
    assert.doesNotMatch(r.stderr, /secret/, 'the password is not printed');
  });
});
