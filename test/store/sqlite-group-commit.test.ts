/**
 * The SQLite driver's group commit: a transaction that fails is undone alone, whether it shares its group
 * (a savepoint each) or runs alone in it (no savepoint: the whole transaction rolled back), and what comes
 * after commits. insertRows on SQLite (one prepared statement run per row) answers the rows it added.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { insertRows } from '../../src/store/driver.ts';
import { driverOf, openStore, type Store } from '../../src/store/store.ts';
import { tempDir } from '../helpers.ts';

const now = 1_700_000_000_000;

describe('SQLite group commit', () => {
  const tmp = tempDir();
  let store: Store;
  before(async () => {
    store = (await openStore({ dataDir: tmp.dir, databaseUrl: null })).store;
  });
  after(async () => {
    await store.close();
    tmp.remove();
  });
  const names = async (prefix: string) => (await store.listTokens()).map((t) => t.name).filter((n) => n.startsWith(prefix)).sort();

  it('undoes a lone transaction that fails, answers its own error, and commits the next', async () => {
    await assert.rejects(
      store.transaction(async (tx) => {
        await tx.insertToken('alone-undone', 'h-alone-undone', now);
        throw new Error('refused by the caller');
      }),
      /refused by the caller/,
    );
    await store.transaction((tx) => tx.insertToken('alone-after', 'h-alone-after', now));
    assert.deepEqual(await names('alone-'), ['alone-after']);
  });

  it('undoes only the failing transaction of a group', async () => {
    const results = await Promise.allSettled([
      store.transaction((tx) => tx.insertToken('group-first', 'h-group-first', now)),
      store.transaction(async (tx) => {
        await tx.insertToken('group-undone', 'h-group-undone', now);
        throw new Error('refused by the caller');
      }),
      store.transaction((tx) => tx.insertToken('group-last', 'h-group-last', now)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    assert.deepEqual(await names('group-'), ['group-first', 'group-last']);
  });

  it('inserts rows one statement a row, converting values as bound, and counts what it added', async () => {
    const db = driverOf(store);
    await db.exec('CREATE TABLE insert_rows_probe (id INTEGER PRIMARY KEY, label TEXT, flag INTEGER)');
    const rows = [
      { id: 1, label: 'one', flag: true },
      { id: 2, label: undefined, flag: false },
      { id: 1, label: 'again', flag: true },
    ];
    const added = await db.transaction((tx) => insertRows(tx, 'insert_rows_probe', ['id', 'label', 'flag'], rows, 'ON CONFLICT DO NOTHING'));
    assert.equal(added, 2);
    assert.deepEqual(await db.all('SELECT id, label, flag FROM insert_rows_probe ORDER BY id'), [
      { id: 1, label: 'one', flag: 1 },
      { id: 2, label: null, flag: 0 },
    ]);
  });
});
