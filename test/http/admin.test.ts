/** The admin API as a new user meets it: set up everything a trigger campaign needs, read it back. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, STORE_KINDS, TEST_TOKEN, type TestServer } from '../helpers.ts';

for (const kind of STORE_KINDS) {
  describe(`admin API on ${kind}`, () => {
    let s: TestServer;
    let dbId: number;
    let resourceId: number;
    let templateId: number;

    before(async () => {
      s = await startServer({ kind });
    });
    after(async () => s.close());

    it('creates a database with typed fields and lists its fields', async () => {
      const r = ok(
        await s.call('databases/add', {
          name: 'customers',
          fields: [
            { name: 'CRM_ID', type: 'int', indexed: true },
            { name: 'Custom_ID', type: 'string', indexed: true },
            { name: 'Interests', type: 'tags' },
            { name: 'Vip', type: 'bool' },
            { name: 'Since', type: 'date' },
            { name: 'Profile', type: 'json' },
          ],
        }),
      );
      dbId = r.data.id;
      const fields = ok(await s.call('databases/fields', { id: String(dbId) })).data;
      assert.deepEqual(
        fields.filter((f: { system: boolean }) => !f.system).map((f: { name: string; type: string }) => `${f.name}:${f.type}`),
        ['CRM_ID:int', 'Custom_ID:string', 'Interests:tags', 'Vip:bool', 'Since:date', 'Profile:json'],
      );
      assert.ok(fields.some((f: { name: string }) => f.name === '_xxh'));
      assert.equal(ok(await s.call('databases/get', { id: dbId })).data.name, 'customers');
      assert.equal(ok(await s.call('databases/list')).data.length, 1);
    });

    it('creates a resource and a template, and reads them back', async () => {
      resourceId = ok(
        await s.call('resources/add', {
          name: 'Shop',
          channels: ['email', 'sms', 'push'],
          email: { from_email: 'Shop@Example.com', from_name: 'The Shop', replyto_email: 'help@example.com' },
          sms: { sender: 'SHOP' },
        }),
      ).data.id;
      const res = ok(await s.call('resources/get', { id: resourceId })).data;
      assert.deepEqual(res.email, { from_email: 'shop@example.com', from_name: 'The Shop', replyto_email: 'help@example.com' });
      assert.deepEqual(res.channels, ['email', 'sms', 'push']);

      const channels = [
        { sid: 'email', fields: { subject: '{apicontent.email_title}', html: '<p>Hi {lead._fname}</p>{for l in apicontent.data_lines}<li>{l}</li>{end}', text: 'Hi {lead._fname}' } },
        { sid: 'sms', fields: { text: 'Code {apicontent.code}' } },
      ];
      templateId = ok(await s.call('templates/add', { name: 'New videos', channels })).data.id;
      const tpl = ok(await s.call('templates/get', { id: templateId })).data;
      assert.deepEqual(tpl.channels, channels);
      const updated = ok(await s.call('templates/update', { id: templateId, channels: [{ sid: 'sms', fields: { text: 'Your code: {apicontent.code}' } }] })).data;
      assert.equal(updated.channels.find((c: { sid: string }) => c.sid === 'sms').fields.text, 'Your code: {apicontent.code}');
      assert.equal(updated.channels.find((c: { sid: string }) => c.sid === 'email').fields.subject, '{apicontent.email_title}');
    });

    it('refuses a template that does not parse, with line and column', async () => {
      const r = await s.call('templates/add', { name: 'broken', channels: [{ sid: 'email', fields: { subject: 'x', html: '<p>\n  {if lead.a}never closed' } }] });
      assert.equal(r.status, 400);
      assert.equal(r.body.error_text, 'template email.html: line 2, column 3: {if} is not closed with {end}');
      assert.equal(ok(await s.call('templates/list')).data.length, 1);
    });

    it('imports two profiles with subscriptions, and updates one by another matching', async () => {
      const john = ok(
        await s.call('profiles/import', {
          db_id: dbId,
          data: {
            email: 'John@Example.com',
            phones: ['+79000000001'],
            _fname: 'John',
            CRM_ID: 42,
            Custom_ID: 'IpHicQquekzYkufl',
            Interests: 'video, music',
            subscriptions: [
              { resource_id: resourceId, channel: 'email', email: 'john@example.com', priority: 1 },
              { resource_id: resourceId, channel: 'sms', phone: '+79000000001' },
              { resource_id: resourceId, channel: 'push', provider: 'Chrome', subscription_id: 'CAREFULWITHTHATAXE' },
            ],
          },
        }),
      );
      assert.match(john.profile_id, /^[0-9a-f]{24}$/);
      assert.equal(john.data.profile_id, john.profile_id);
      const jane = ok(
        await s.call('profiles/import', {
          db_id: dbId,
          matching: 'email',
          email: 'jane@example.com',
          data: { _fname: 'Jane', CRM_ID: 43, subscriptions: [{ resource_id: resourceId, channel: 'email', email: 'jane@example.com', status: 'unsubscribed' }] },
        }),
      );
      assert.notEqual(jane.profile_id, john.profile_id);

      // Same email again: the same profile, updated.
      const again = ok(await s.call('profiles/import', { db_id: dbId, data: { email: 'john@example.com', _lname: 'Smith' } }));
      assert.equal(again.profile_id, john.profile_id);
      const byPhone = ok(await s.call('profiles/update', { db_id: dbId, matching: 'phone', phone: '+7 900 000-00-01', data: { Vip: true } }));
      assert.equal(byPhone.profile_id, john.profile_id);

      const got = ok(await s.call('profiles/get', { db_id: dbId, matching: 'custom', field_name: 'CRM_ID', field_value: '42' })).data;
      assert.equal(got._id, john.profile_id);
      assert.equal(got.email, 'john@example.com');
      assert.equal(got._md5, 'd4c74594d841139328695756648b6bd6');
      assert.equal(got._xxh, '0d1cf76dbb341cda');
      assert.deepEqual([got._fname, got._lname, got.Vip, got.Interests], ['John', 'Smith', true, ['video', 'music']]);
      assert.deepEqual(
        got.subscriptions.map((x: Record<string, unknown>) => [x.channel, x.email ?? x.phone ?? x.subscription_id, x.status, x.priority]),
        [
          ['email', 'john@example.com', 'subscribed', 1],
          ['sms', '+79000000001', 'subscribed', 0],
          ['push', 'CAREFULWITHTHATAXE', 'subscribed', 0],
        ],
      );
      const byTags = ok(await s.call('profiles/get', { db_id: dbId, matching: 'custom', field_name: 'Interests', field_value: 'music, video' })).data;
      assert.equal(byTags._id, john.profile_id);
      const janeGot = ok(await s.call('profiles/get', { db_id: dbId, matching: 'profile_id', profile_id: jane.profile_id })).data;
      assert.equal(janeGot.subscriptions[0].status, 'unsubscribed');
    });

    it('answers 404 and 409 where a matching finds none or several', async () => {
      const none = await s.call('profiles/update', { db_id: dbId, data: { email: 'nobody@example.com', _fname: 'X' } });
      assert.equal(none.status, 404);
      assert.equal(none.body.error_text, `no profile matches email nobody@example.com in database ${dbId}`);
      ok(await s.call('profiles/import', { db_id: dbId, matching: 'custom', field_name: 'Custom_ID', field_value: 'shared', data: { email: 'a1@example.com' } }));
      ok(await s.call('profiles/import', { db_id: dbId, data: { email: 'a2@example.com', Custom_ID: 'shared' } }));
      const two = await s.call('profiles/get', { db_id: dbId, matching: 'custom', field_name: 'Custom_ID', field_value: 'shared' });
      assert.equal(two.status, 409);
      assert.equal(two.body.error_text, `2 profiles match Custom_ID "shared" in database ${dbId}`);
      const noDb = await s.call('profiles/get', { db_id: 999, email: 'a@b.co' });
      assert.equal(noDb.status, 404);
      assert.equal(noDb.body.error_text, 'database 999 not found');
    });

    it('imports a batch in one call with a result per item', async () => {
      const data = Array.from({ length: 300 }, (_, i) => ({ email: `batch${i}@example.com`, CRM_ID: 1000 + i, subscriptions: [{ resource_id: resourceId, channel: 'email', email: `batch${i}@example.com` }] }));
      data[5] = { email: 'not an email' } as never;
      data[9] = { email: 'bad-field@example.com', Nope: 1 } as never;
      data[20] = { email: 'batch0@example.com', _fname: 'Second write' } as never;
      const r = ok(await s.call('profiles/import_batch', { db_id: dbId, data }));
      assert.equal(r.data.length, 300);
      assert.deepEqual(r.data[5], { error: 400, error_text: "data[5]: field 'email' is not a valid email: 'not an email'" });
      assert.deepEqual(r.data[9], { error: 400, error_text: `data[9]: field 'Nope' is not a field of database ${dbId}` });
      assert.equal(r.data[20].profile_id, r.data[0].profile_id, 'a later item sees the profile an earlier item created');
      assert.equal(r.data.filter((x: { profile_id?: string }) => x.profile_id).length, 298);
      const got = ok(await s.call('profiles/get', { db_id: dbId, email: 'batch0@example.com' })).data;
      assert.equal(got._fname, 'Second write');
      assert.equal(got.subscriptions.length, 1);
    });

    it('creates an api_call campaign, updates, activates and logs it', async () => {
      const id = ok(
        await s.call('campaigns/triggers/add', {
          name: 'New videos',
          trigger_type: 'api_call',
          send_channel: 'email',
          resource_id: resourceId,
          db_id: String(dbId),
          content: [{ message_id: templateId, from_name: 'Video Team' }],
        }),
      ).data.id;
      let c = ok(await s.call('campaigns/triggers/get', { id: String(id) })).data;
      assert.deepEqual([c.is_active, c.trigger_type, c.send_channel, c.list_id, c.db_id], [false, 'api_call', 'email', dbId, dbId]);
      assert.deepEqual(c.content, [{ message_id: templateId, from_name: 'Video Team' }]);
      c = ok(await s.call('campaigns/triggers/update', { id, skip_minutes: 5, content_filter: { kind: { $in: ['video'] } } })).data;
      assert.equal(c.skip_minutes, 5);
      const changeChannel = await s.call('campaigns/triggers/update', { id, send_channel: 'sms' });
      assert.equal(changeChannel.status, 400);
      assert.match(changeChannel.body.error_text, /send_channel cannot change/);
      ok(await s.call('campaigns/activate', { id }));
      assert.deepEqual(ok(await s.call('campaigns/get_status', { id })).data, { is_active: true, is_completed: false, status: 'active' });
      const list = ok(await s.call('campaigns/triggers/list', { is_active: true }));
      assert.equal(list.total_count, 1);
      const log = ok(await s.call('campaigns/log_v2', { id })).data;
      assert.deepEqual(log.map((e: { message: string }) => e.message), ['campaign activated', 'campaign updated', 'campaign created']);
      assert.ok(log.every((e: { time: string }) => !Number.isNaN(Date.parse(e.time))));
    });

    it('refuses campaigns whose parts do not fit', async () => {
      const base = { name: 'x', send_channel: 'email', resource_id: resourceId, db_id: dbId, content: [{ message_id: templateId }] };
      const cases: [Record<string, unknown>, number, RegExp][] = [
        [{ resource_id: 999 }, 404, /resource 999 not found/],
        [{ db_id: 999 }, 404, /database 999 not found/],
        [{ content: [{ message_id: 999 }] }, 404, /template 999 not found/],
        [{ send_channel: 'fax' }, 400, /field 'send_channel' must be one of/],
        [{ content: [{ message_id: templateId, subject: '{if x' }] }, 400, /content\[0\]\.subject/],
        [{ content_filter: { $where: '1' } }, 400, /content_filter\.\$where: operator '\$where' is not allowed/],
        [{ name: 'New videos' }, 409, /campaign named 'New videos' already exists/],
      ];
      for (const [change, code, text] of cases) {
        const r = await s.call('campaigns/triggers/add', { ...base, ...change });
        assert.equal(r.status, code, JSON.stringify(change));
        assert.match(r.body.error_text, text);
      }
      const push = await s.call('campaigns/triggers/add', { ...base, send_channel: 'push' });
      assert.equal(push.status, 400);
      assert.equal(push.body.error_text, `template ${templateId} has no 'push' channel`);
    });

    it('takes the token from the body or as Bearer, and refuses others', async () => {
      const bearer = await s.call('databases/list', { x: 1 }, { raw: '{}', headers: { authorization: `Bearer ${TEST_TOKEN}` } });
      assert.equal(bearer.status, 200);
      const missing = await s.call('databases/list', {}, { raw: '{}' });
      assert.deepEqual([missing.status, missing.body.error_text], [401, 'API token required']);
      const wrong = await s.call('databases/list', { token: 'wrong-token' });
      assert.deepEqual([wrong.status, wrong.body.error_text], [403, 'API token is not valid']);
    });

    it('answers with and without a trailing slash, and names unknown methods', async () => {
      const res = await fetch(`${s.url}/api/v1.1/databases/list/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: TEST_TOKEN }) });
      assert.equal(res.status, 200);
      const unknown = await s.call('databases/drop', {});
      assert.deepEqual([unknown.status, unknown.body.error_text], [404, 'no such method: POST /api/v1.1/databases/drop']);
    });

    it('serves the OpenAPI document from the route schemas, and Swagger UI', async () => {
      const doc = await (await fetch(`${s.url}/openapi.json`)).json();
      assert.equal(doc.openapi, '3.0.3');
      const paths = Object.keys(doc.paths);
      for (const p of ['/api/v1.1/databases/add', '/api/v1.1/profiles/import_batch', '/api/v1.1/campaigns/triggers/add', '/api/v1.1/campaigns/log_v2']) {
        assert.ok(paths.includes(p), p);
      }
      const add = doc.paths['/api/v1.1/campaigns/triggers/add'].post;
      assert.deepEqual(add.requestBody.content['application/json'].schema.required, ['name', 'send_channel', 'resource_id', 'db_id', 'content']);
      const ui = await fetch(`${s.url}/docs/`);
      assert.equal(ui.status, 200);
      assert.match(await ui.text(), /swagger/i);
    });
  });
}
