/**
 * WAL checkpoints in a thread of their own (src/store/sqlite/checkpointer.ts): a serving process
 * copies what it committed into the database file in the background, so no commit stops the event
 * loop to do it. Seen from outside: the database file alone (without its -wal) catches up with a
 * launch while nothing else is written, far below the 1,000 pages at which a commit would checkpoint.
 */
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { copyFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { WalCheckpointer } from '../../src/store/sqlite/checkpointer.ts';
import { setupShop } from '../fixture.ts';
import { eventually, ok, startServer, tempDir } from '../helpers.ts';

describe('SQLite WAL checkpoints', () => {
  const copies = tempDir();
  after(() => copies.remove());

  /** Whether a copy of the database file alone (the WAL left behind) has the launch. */
  const fileAloneHas = (file: string, launch: number, n: number) => {
    const copy = path.join(copies.dir, `copy-${n}.db`);
    copyFileSync(file, copy);
    try {
      const db = new Database(copy, { readonly: true });
      try {
        return (db.prepare('SELECT count(*) AS n FROM launches WHERE id = ?').get(launch) as { n: number }).n === 1;
      } finally {
        db.close();
      }
    } catch {
      return false; // a copy taken while the thread wrote a page: try again
    }
  };

  it('a serving process checkpoints in the background: the database file alone catches up with a launch', async () => {
    const s = await startServer();
    try {
      const shop = await setupShop(s);
      const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'checkpointed' } });
      ok(r);
      const launch = Number(r.headers.get('launch-id'));
      assert.ok(launch > 0);
      const file = path.join(s.config.dataDir, 'salvo.db');
      let n = 0;
      await eventually(async () => fileAloneHas(file, launch, n++), 10_000, 'the launch to reach the database file');
    } finally {
      await s.close();
    }
  });

  it('a thread that cannot checkpoint says why and ends; the connection then checkpoints itself', async () => {
    const errors: string[] = [];
    let ended = false;
    const c = new WalCheckpointer(path.join(copies.dir, 'missing.db'), { onError: (e) => errors.push(e.message), onExit: () => (ended = true) });
    await eventually(async () => ended, 10_000, 'the thread to end');
    assert.match(errors.join('\n'), /WAL checkpoint thread ended: could not open the database: .*(unable to open|does not exist).*; commits checkpoint from now on/i);
    await c.close();
  });
});
