/**
 * Custom fields named like Object.prototype's members (issue 8, item 11): `toString`, `constructor`,
 * `hasOwnProperty`, `valueOf` imported with 200 and stored nothing. They now import, store, read
 * back, match and select like any other field; `__proto__` is refused by name at databases/add.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';

const NAMES = ['toString', 'constructor', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', 'propertyIsEnumerable', 'toLocaleString'];

for (const kind of STORE_KINDS) {
  describe(`custom fields named like object members on ${kind}`, () => {
    let s: TestServer;
    let db: number;
    before(async () => {
      s = await startServer({ kind });
      db = ok(
        await s.call('databases/add', {
          name: 'members',
          fields: NAMES.map((name, i) => ({ name, type: i % 2 ? 'int' : 'string', indexed: i < 4 })),
        }),
      ).data.id;
    });
    after(() => s.close());

    const valueAt = (i: number) => (i % 2 ? 100 + i : `value ${i}`);

    it('imports, stores and reads back each value', async () => {
      const data = Object.fromEntries(NAMES.map((n, i) => [n, valueAt(i)]));
      const imported = ok(await s.call('profiles/import', { db_id: db, data: { email: 'ann@example.com', ...data } }));
      const got = ok(await s.call('profiles/get', { db_id: db, matching: 'profile_id', profile_id: imported.profile_id })).data;
      for (const [i, n] of NAMES.entries()) assert.deepEqual(got[n], valueAt(i), n);
    });

    it('finds the profile by such a field, indexed or not, and leaves a profile without them alone', async () => {
      ok(await s.call('profiles/import', { db_id: db, data: { email: 'bob@example.com' } }));
      for (const [i, n] of NAMES.entries()) {
        const got = ok(await s.call('profiles/get', { db_id: db, matching: 'custom', field_name: n, field_value: String(valueAt(i)) })).data;
        assert.equal(got.email, 'ann@example.com', n);
      }
      const bob = ok(await s.call('profiles/get', { db_id: db, matching: 'email', email: 'bob@example.com' })).data;
      for (const n of NAMES) assert.equal(Object.hasOwn(bob, n), false, `${n} on a profile that never set it`);
      const missing = await s.call('profiles/get', { db_id: db, matching: 'custom', field_name: 'toString', field_value: 'nothing' });
      assert.equal(missing.status, 404);
    });

    it('updates and clears such a field', async () => {
      ok(await s.call('profiles/update', { db_id: db, matching: 'email', email: 'ann@example.com', data: { constructor: 7, toString: null } }));
      const got = ok(await s.call('profiles/get', { db_id: db, matching: 'email', email: 'ann@example.com' })).data;
      assert.equal(got.constructor, 7);
      assert.equal(Object.hasOwn(got, 'toString'), false);
    });

    it('refuses __proto__ and unknown names with a 400 naming them', async () => {
      const add = await s.call('databases/add', { name: 'proto', fields: [{ name: '__proto__', type: 'string' }] });
      assert.equal(add.status, 400);
      assert.match(add.body.error_text, /^fields\[0\]\.name '__proto__' is not allowed/);
      const raw = `{"token":"${'test-token-0123456789abcdef'}","db_id":${db},"data":{"email":"eve@example.com","__proto__":{"x":1}}}`;
      const imp = await s.call('profiles/import', {}, { raw });
      assert.equal(imp.status, 400); // the JSON parser itself refuses a __proto__ key
      const unknown = await s.call('profiles/import', { db_id: db, data: { email: 'eve@example.com', Nope: 1 } });
      assert.equal(unknown.body.error_text, `field 'Nope' is not a field of database ${db}`);
    });
  });
}
