/**
 * The SQLite driver builds row objects itself (from better-sqlite3's raw value lists, one object literal per
 * statement's columns): the rows must be what better-sqlite3 itself would have made, whatever the columns.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SqliteDriver } from '../../src/store/sqlite/driver.ts';
import { tempDir } from '../helpers.ts';

test('SQLite rows: the same objects better-sqlite3 makes, for any column names', async () => {
  const tmp = tempDir();
  const file = path.join(tmp.dir, 'rows.db');
  const driver = new SqliteDriver(file);
  const plain = new Database(file);
  try {
    await driver.exec("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, data BLOB, score REAL, \"weird \"\"col\"\"\" TEXT, \"__proto__\" TEXT)");
    await driver.run('INSERT INTO t (name, data, score, "weird ""col""", "__proto__") VALUES (?, ?, ?, ?, ?)', ['a', Buffer.from([1, 2]), 1.5, 'w', 'p']);
    await driver.run('INSERT INTO t (name) VALUES (?)', [null]);
    const queries = [
      'SELECT * FROM t ORDER BY id',
      'SELECT id, name FROM t ORDER BY id',
      // A repeated name keeps the last value.
      'SELECT id, name AS id FROM t ORDER BY id',
      'SELECT t.*, u.* FROM t JOIN t u ON u.id = t.id ORDER BY t.id',
      'SELECT COUNT(*) AS n, MAX(score) FROM t',
      'SELECT * FROM t WHERE id < 0',
    ];
    for (const sql of queries) {
      const mine = await driver.all(sql);
      const theirs = plain.prepare(sql).all();
      assert.deepEqual(mine, theirs, sql);
      assert.deepEqual(mine.map((r) => Object.keys(r)), theirs.map((r) => Object.keys(r as object)), `key order: ${sql}`);
      assert.deepEqual(mine.map(Object.getPrototypeOf), theirs.map(Object.getPrototypeOf), `prototypes: ${sql}`);
    }
    // A row returned by a write, inside a transaction, and a read answered after a write of the same text.
    const inserted = await driver.get('INSERT INTO t (name) VALUES (?) RETURNING id, name', ['c']);
    assert.deepEqual(inserted, { id: 3, name: 'c' });
    assert.deepEqual(await driver.transaction((tx) => tx.get('SELECT name FROM t WHERE id = ?', [3])), { name: 'c' });
  } finally {
    plain.close();
    await driver.close();
    tmp.remove();
  }
});
