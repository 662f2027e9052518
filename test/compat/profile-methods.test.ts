/**
 * Conformance: Altcraft's profile and subscription methods beyond import and get, and the deprecated
 * `?token=`, each with the request its page documents, on both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, STORE_KINDS, startServer, TEST_TOKEN, type TestServer } from '../helpers.ts';

for (const kind of STORE_KINDS) {
  describe(`Altcraft's profile methods (${kind})`, () => {
    let s: TestServer;
    let db: number;
    const ids: string[] = [];

    before(async () => {
      s = await startServer({ kind });
      ok(await s.call('resources/add', { name: 'Site', channels: ['email', 'push', 'telegram_bot'], email: { from_email: 'news@shop.example' } }));
      db = ok(await s.call('databases/add', { name: 'main' })).data.id;
      const people: [string, string, string][] = [
        ['anna@example.com', 'Murphy', 'Moscow'],
        ['john@example.com', 'Doe', 'Boston'],
        ['bob@example.com', 'Black', 'Bay City'],
        ['eve@example.com', 'Smith', 'Paris'],
        ['max@example.com', 'Doe', 'Moscow'],
      ];
      for (const [email, _lname, _city] of people) {
        ids.push(ok(await s.call('profiles/import', { db_id: db, data: { email, _lname, _city, _fname: email.split('@')[0], subscriptions: [{ resource_id: 1, channel: 'email', email }] } })).profile_id);
      }
    });
    after(() => s.close());

    it('profiles/list: the page\'s request verbatim (from_id, limit, query, fields), then every page to the end', async () => {
      // https://guides.altcraft.com/en/developer-guide/profiles/37847989
      const r = ok(
        await s.call('profiles/list', {
          db_id: 1,
          from_id: '65117f62736a0e15d273fae9',
          limit: 1,
          query: { $or: [{ _lname: 'Doe' }, { _city: 'Moscow' }] },
          fields: ['_id', '_lname', '_fname', '_city', 'subscriptions'],
        }),
      );
      // Pages are in id order (ids made in one millisecond are not in the order made).
      const matches = [ids[0], ids[1], ids[4]].sort();
      const byId = new Map([[ids[0], ['Murphy', 'Moscow', 'anna@example.com']], [ids[1], ['Doe', 'Boston', 'john@example.com']], [ids[4], ['Doe', 'Moscow', 'max@example.com']]]);
      assert.equal(r.data.length, 1);
      const [first] = r.data;
      assert.deepEqual(Object.keys(first).sort(), ['_city', '_fname', '_id', '_lname', 'id', 'subscriptions']);
      assert.equal(first.id, matches[0]);
      assert.deepEqual([first._lname, first._city, first.subscriptions[0].email], byId.get(first.id));
      assert.equal(r.next_from_id, matches[0]);
      // Following the cursor reads every match once, in id order, and ends with null.
      const seen: string[] = [];
      let from = '';
      for (let calls = 0; calls < 10; calls++) {
        const page = ok(await s.call('profiles/list', { db_id: db, from_id: from, limit: 2, query: { $or: [{ _lname: 'Doe' }, { _city: 'Moscow' }] }, fields: ['_fname'] }));
        seen.push(...page.data.map((p: { id: string }) => p.id));
        if (page.next_from_id === null) break;
        from = page.next_from_id;
      }
      assert.deepEqual(seen, matches);
      const all = ok(await s.call('profiles/list', { db_id: db }));
      assert.deepEqual(all.data.map((p: { id: string }) => p.id), [...ids].sort());
      assert.equal(all.next_from_id, null);
      assert.ok(all.data.every((p: { db_id: number }) => p.db_id === db));
    });

    it('profiles/list refuses a query operator off the whitelist and a cursor that is no profile id', async () => {
      const where = await s.call('profiles/list', { db_id: db, query: { $where: 'sleep(1000)' } });
      assert.equal(where.status, 400);
      assert.match(where.body.error_text, /query\.\$where: operator '\$where' is not allowed/);
      const cursor = await s.call('profiles/list', { db_id: db, from_id: "' OR 1=1" });
      assert.equal(cursor.status, 400);
      assert.match(cursor.body.error_text, /field 'from_id' must be the next_from_id of the previous page/);
    });

    it('subscriptions/set adds a subscription and changes one, keeping what it does not give', async () => {
      // https://guides.altcraft.com/en/developer-guide/profiles/subscriptions/2195519 (its parameter tables)
      const profile_id = ids[1];
      const added = ok(
        await s.call('subscriptions/set', {
          format: 'json',
          db_id: 1,
          profile_id,
          resource_id: 1,
          channel: 'push',
          provider: 'Firefox',
          subscription_id: 'abcdefghijklmnqrstuvwxyz',
          priority: 10,
          custom_fields: { _browser_name: 'Chrome', _device_type: 'web' },
          cats: ['category_1', 'category_2'],
          date: '2018-08-22T00:00:00.000Z',
          ip: '10.250.13.5',
          url: 'https://example.com/',
        }),
      ).data;
      assert.deepEqual(
        { ...added, id: undefined },
        { id: undefined, resource_id: 1, channel: 'push', provider: 'Firefox', subscription_id: 'abcdefghijklmnqrstuvwxyz', status: 'subscribed', priority: 10, custom_fields: { _browser_name: 'Chrome', _device_type: 'web' }, cats: ['category_1', 'category_2'] },
      );
      const changed = ok(await s.call('subscriptions/set', { db_id: db, profile_id, resource_id: 1, channel: 'push', provider: 'Firefox', subscription_id: 'abcdefghijklmnqrstuvwxyz', status: 'unsubscribed' })).data;
      assert.deepEqual([changed.status, changed.priority, changed.cats], ['unsubscribed', 10, ['category_1', 'category_2']]);
      ok(await s.call('subscriptions/set', { db_id: db, profile_id, resource_id: 1, channel: 'telegram_bot', cc_data: { id: 1 } }));
      const subs = ok(await s.call('profiles/get', { db_id: db, matching: 'profile_id', profile_id })).data.subscriptions;
      assert.deepEqual(subs.map((x: { channel: string }) => x.channel).sort(), ['email', 'push', 'telegram_bot']);
      const missing = await s.call('subscriptions/set', { db_id: db, profile_id: 'ffffffffffffffffffffffff', resource_id: 1, channel: 'email', email: 'x@example.com' });
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error_text, `profile ffffffffffffffffffffffff not found in database ${db}`);
      const bad = await s.call('subscriptions/set', { db_id: db, profile_id, resource_id: 1, channel: 'email', email: 'nope' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error_text, /field 'email' is not a valid email/);
    });

    it('resources/fields_get and databases/fields_get answer the page\'s requests', async () => {
      // https://guides.altcraft.com/en/developer-guide/resources/2195591: {"id": 1, "channel": "email", "token": ...}
      assert.deepEqual(ok(await s.call('resources/fields_get', { id: 1, channel: 'email' })).data, []);
      const push = ok(await s.call('resources/fields_get', { id: 1, channel: 'push' })).data;
      assert.deepEqual(push[0], { category: 'system', title: 'Device type', name: '_device_type', required: false, type: 'unicode', dictionary: 'devices' });
      const noSms = await s.call('resources/fields_get', { id: 1, channel: 'sms' });
      assert.equal(noSms.status, 400);
      assert.match(noSms.body.error_text, /resource 1 has no 'sms' channel/);
      const fields = ok(await s.call('databases/fields_get', { id: db })).data;
      assert.ok(fields.some((f: { name: string }) => f.name === '_tz'));
    });

    it('takes the token as ?token= on a v1.1 method (Altcraft: deprecated, still accepted), and refuses a wrong one', async () => {
      // https://guides.altcraft.com/en/developer-guide/api-interaction: "Some parameters can be sent in URL (API key, format)."
      const call = (token: string) =>
        fetch(`${s.url}/api/v1.1/profiles/get?token=${encodeURIComponent(token)}&format=json`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ db_id: db, email: 'eve@example.com' }) });
      const good = await call(TEST_TOKEN);
      assert.equal(good.status, 200);
      assert.equal((await good.json()).data._fname, 'eve');
      const wrong = await call('wrong-token');
      assert.equal(wrong.status, 403);
      assert.deepEqual(await wrong.json(), { error: 403, error_text: 'API token is not valid', data: null });
      const none = await fetch(`${s.url}/api/v1.1/profiles/get`, { method: 'POST', body: JSON.stringify({ db_id: db, email: 'eve@example.com' }) });
      assert.equal(none.status, 401);
    });
  });
}
