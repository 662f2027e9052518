/**
 * profiles/import_batch writes its items in order, so a later item sees what an earlier one wrote: its
 * profile, index keys and subscriptions, whether the two fall in one slice of the write or in two (SQLite
 * resolves and writes a batch a few dozen profiles at a time; PostgreSQL takes it whole).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';

for (const kind of STORE_KINDS) {
  describe(`profiles/import_batch, items in order (${kind})`, () => {
    let s: TestServer;
    let db: number;
    let resource: number;

    before(async () => {
      s = await startServer({ kind });
      db = ok(await s.call('databases/add', { name: 'crm', fields: [{ name: 'CRM_ID', type: 'int', indexed: true }] })).data.id;
      resource = ok(await s.call('resources/add', { name: 'Shop', channels: ['email', 'sms'], email: { from_email: 'news@shop.example' }, sms: { sender: 'SHOP' } })).data.id;
    });
    after(() => s.close());

    const byCrm = async (id: number) => s.call('profiles/get', { db_id: db, matching: 'custom', field_name: 'CRM_ID', field_value: String(id) });
    const filler = (i: number) => ({ email: `filler${i}@example.com`, CRM_ID: 100_000 + i });

    it('a profile written again far later in the batch, and again next to itself: keys, fields and subscriptions as the last write leaves them', async () => {
      const data: Record<string, unknown>[] = Array.from({ length: 150 }, (_, i) => filler(i));
      // Item 3 creates Ann unsubscribed from email with priority 5; item 120, slices later, changes her
      // CRM_ID and phone and names the email subscription without status or priority (so they are kept).
      data[3] = {
        email: 'ann@example.com',
        CRM_ID: 1,
        phones: ['+79000000001'],
        subscriptions: [{ resource_id: resource, channel: 'email', email: 'ann@example.com', status: 'unsubscribed', priority: 5 }],
      };
      data[120] = {
        email: 'ann@example.com',
        CRM_ID: 2,
        phones: ['+79000000002'],
        subscriptions: [
          { resource_id: resource, channel: 'email', email: 'ann@example.com' },
          { resource_id: resource, channel: 'sms', phone: '+79000000002' },
        ],
      };
      // Bob three times in a row (one slice): CRM_ID 10, 11, then 10 again; his sms subscription
      // suspended first, then named again without a status.
      data[40] = { email: 'bob@example.com', CRM_ID: 10, subscriptions: [{ resource_id: resource, channel: 'sms', phone: '+79000000010', status: 'suspended' }] };
      data[41] = { email: 'bob@example.com', CRM_ID: 11, subscriptions: [{ resource_id: resource, channel: 'sms', phone: '+79000000010' }] };
      data[42] = { email: 'bob@example.com', CRM_ID: 10, _fname: 'Bob' };
      // An item that fails is answered in its place and writes nothing.
      data[60] = { email: 'carl@example.com', CRM_ID: 'not a number' };

      const r = ok(await s.call('profiles/import_batch', { db_id: db, data })).data as { profile_id?: string; error?: number; error_text?: string }[];
      assert.equal(r.length, 150);
      assert.deepEqual(r[60], { error: 400, error_text: "data[60]: field 'CRM_ID' must be an integer" });
      assert.equal(r.filter((x) => x.profile_id).length, 149);
      assert.equal(r[120].profile_id, r[3].profile_id, 'a later slice finds the profile an earlier one made');
      assert.equal(r[41].profile_id, r[40].profile_id);
      assert.equal(r[42].profile_id, r[40].profile_id);

      const ann = ok(await byCrm(2)).data;
      assert.equal(ann._id, r[3].profile_id);
      assert.deepEqual(ann.phones, ['+79000000002']);
      assert.deepEqual(
        ann.subscriptions.map((x: Record<string, unknown>) => [x.channel, x.email ?? x.phone, x.status, x.priority]),
        [
          ['email', 'ann@example.com', 'unsubscribed', 5],
          ['sms', '+79000000002', 'subscribed', 0],
        ],
      );
      assert.equal((await byCrm(1)).status, 404, 'the CRM_ID an earlier slice wrote is no longer a key of hers');
      assert.equal((await s.call('profiles/get', { db_id: db, matching: 'phone', phone: '+79000000001' })).status, 404);
      assert.equal(ok(await s.call('profiles/get', { db_id: db, matching: 'phone', phone: '+79000000002' })).data._id, r[3].profile_id);

      const bob = ok(await byCrm(10)).data;
      assert.equal(bob._id, r[40].profile_id);
      assert.equal(bob._fname, 'Bob');
      assert.deepEqual(
        bob.subscriptions.map((x: Record<string, unknown>) => [x.channel, x.phone, x.status]),
        [['sms', '+79000000010', 'suspended']],
      );
      assert.equal((await byCrm(11)).status, 404, 'the key his middle write added, his last write removed');
      assert.equal((await s.call('profiles/get', { db_id: db, email: 'carl@example.com' })).status, 404);
      assert.equal(ok(await byCrm(100_149)).data.email, 'filler149@example.com');
    });
  });
}
