/**
 * Conformance: Altcraft's profile data object, sent as Altcraft's own pages write it, on both stores.
 * Each test quotes the page its request comes from; where two pages disagree, both forms are sent.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

/** https://guides.altcraft.com/en/developer-guide/objects/Profile-data-object_3116008 (the valid-JSON crawl, verbatim). */
const PROFILE_DATA_OBJECT = {
  data: {
    _regcountry: 'US',
    _regcity: 'New York',
    _regip: '94.231.119.122',
    _regurl: 'www.example.com',
    _regdate: '2019-03-14T22:00:00Z',
    _bdate: '1990-02-22T21:00:00Z',
    _browser: 'Thunderbird',
    _city: 'Ryazan',
    _country: 'RU',
    _fname: 'Olly',
    _ip: '94.231.119.122',
    _lname: 'Lambert',
    _postal_code: '390000',
    _region: 'Ryazan Oblast',
    _vendor: 'form_#31',
    _sex: 0,
    _status: 0,
    _tz: 'Europe/Moscow',
    email: 'example@altcraft.com',
    phones: ['+79000000000'],
    custom_field: 'custom_value',
    subscriptions: [{ channel: 'email', email: 'boris.yudaev@altcraft.com', priority: 0, resource_id: 1, status: 0 }],
  },
};

for (const kind of STORE_KINDS) {
  describe(`Altcraft's profile data object (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let db: number;
    let n = 0;

    before(async () => {
      smtp = await startSmtp();
      s = await startServer({ kind, workers: true, env: { SALVO_SMTP_URL: smtp.url } });
      // Resource 1 and database 1, as the pages' examples name them.
      ok(await s.call('resources/add', { name: 'Site', channels: ['email', 'sms', 'push', 'telegram_bot', 'whatsapp', 'viber', 'notify'], email: { from_email: 'news@shop.example' } }));
      db = ok(
        await s.call('databases/add', {
          name: 'customers',
          fields: [
            { name: 'custom_field', type: 'string' },
            { name: 'checks', type: 'int' },
            { name: 'returns', type: 'int' },
            { name: 'category', type: 'tags', indexed: true },
            { name: 'myObject', type: 'json' },
            { name: 'myArrOfObject', type: 'json' },
            { name: 'policy_date', type: 'date' },
          ],
        }),
      ).data.id;
    });
    after(async () => {
      await s.close();
      await smtp.close();
    });

    const get = async (email: string) => ok(await s.call('profiles/get', { db_id: db, email })).data;

    it('imports the "Profile data object" example verbatim and reads it back (_sex 0, _status 0, subscription status 0)', async () => {
      const r = ok(await s.call('profiles/import', { db_id: db, matching: 'email', email: 'example@altcraft.com', ...PROFILE_DATA_OBJECT }));
      assert.match(r.profile_id, /^[0-9a-f]{24}$/);
      const p = await get('example@altcraft.com');
      assert.equal(p.id, r.profile_id, 'profiles/get answers the id as Altcraft does (data.id)');
      assert.equal(p.db_id, db);
      for (const f of ['_regcountry', '_regcity', '_regip', '_regurl', '_browser', '_city', '_country', '_fname', '_ip', '_lname', '_postal_code', '_region', '_vendor', '_tz', 'custom_field']) {
        assert.equal(p[f], (PROFILE_DATA_OBJECT.data as Record<string, unknown>)[f], f);
      }
      assert.equal(p._bdate, '1990-02-22T21:00:00.000Z');
      assert.equal(p._regdate, '2019-03-14T22:00:00.000Z');
      assert.equal(p._sex, undefined, '_sex 0 is "not known" (ISO/IEC 5218): no value');
      assert.equal(p._status, 'active', '_status 0 is active');
      assert.deepEqual(
        p.subscriptions.map((x: Record<string, unknown>) => [x.channel, x.email, x.status, x.priority]),
        [['email', 'boris.yudaev@altcraft.com', 'subscribed', 0]],
      );
    });

    it('reads the "Types of fields in the database" forms too: _sex names, dates with and without a time, a postal code as a string', async () => {
      // https://guides.altcraft.com/user-guide/profiles-and-databases/types-of-db-fields
      const email = `types${++n}@example.com`;
      ok(await s.call('profiles/import', { db_id: db, data: { email, _sex: 'female', _bdate: '2001-12-31', _regdate: '2023-12-31T23:59:59+03:00', _regcountry: 'Russian Federation', _postal_code: '190000' } }));
      let p = await get(email);
      assert.deepEqual([p._sex, p._bdate, p._regdate, p._regcountry, p._postal_code], ['female', '2001-12-31', '2023-12-31T20:59:59.000Z', 'Russian Federation', '190000']);
      // "2001-12-31T00:00+03:00": RFC 3339 without seconds, as that page writes it; _sex 1 and 2 are male and female.
      ok(await s.call('profiles/import', { db_id: db, data: { email, _sex: 1, _bdate: '2001-12-31T00:00+03:00', _postal_code: 390000 } }));
      p = await get(email);
      assert.deepEqual([p._sex, p._bdate, p._postal_code], ['male', '2001-12-30T21:00:00.000Z', '390000']);
      ok(await s.call('profiles/import', { db_id: db, data: { email, _sex: 2 } }));
      assert.equal((await get(email))._sex, 'female');
    });

    it('reads dates sent as epoch seconds or milliseconds (a Java Long), in system and custom date fields', async () => {
      const email = `epoch${++n}@example.com`;
      ok(await s.call('profiles/import', { db_id: db, data: { email, _bdate: 1009843200, policy_date: 1_700_000_000_123 } }));
      const p = await get(email);
      assert.deepEqual([p._bdate, p.policy_date], ['2002-01-01T00:00:00.000Z', '2023-11-14T22:13:20.123Z']);
    });

    it('refuses what no page allows, naming the field and the forms it takes', async () => {
      const cases: [Record<string, unknown>, RegExp][] = [
        [{ _sex: 3 }, /field '_sex' must be 'male' or 'female', or 0 \(not known\), 1 \(male\), 2 \(female\); got 3/],
        [{ _tz: 'Mars/Olympus' }, /field '_tz' must be an IANA time zone name/],
        [{ _ip: '999.1.1.1' }, /field '_ip' must be an IPv4 or IPv6 address/],
        [{ _bdate: 'yesterday' }, /field '_bdate' is not a valid date \(YYYY-MM-DD, RFC 3339, or epoch seconds or milliseconds\)/],
        [{ _status: 9 }, /field '_status' must be one of active, .*or its number \(0 active/],
        [{ subscriptions: [{ resource_id: 1, channel: 'email', email: 'x@example.com', status: 7 }] }, /data\.subscriptions\[0\]\.status must be one of subscribed, .*6 invalid/],
        [{ _unknown: 1 }, /field '_unknown' is not a field of database/],
      ];
      for (const [data, text] of cases) {
        const r = await s.call('profiles/import', { db_id: db, data: { email: `bad${++n}@example.com`, ...data } });
        assert.equal(r.status, 400, JSON.stringify(data));
        assert.equal(r.body.error, 400);
        assert.match(r.body.error_text, text);
      }
      const sys = await s.call('databases/add', { name: `sys${++n}`, fields: [{ name: '_city', type: 'string' }] });
      assert.equal(sys.status, 400);
      assert.match(sys.body.error_text, /'_city' is a system field: every database has it/);
    });

    it('lists every system field in databases/fields, readable in templates and in custom_request', async () => {
      const fields = ok(await s.call('databases/fields', { id: db })).data.filter((f: { system: boolean }) => f.system).map((f: { name: string }) => f.name);
      for (const f of ['_city', '_country', '_region', '_ip', '_tz', '_postal_code', '_os', '_browser', '_vendor', '_regcity', '_regcountry', '_regurl']) assert.ok(fields.includes(f), f);
      const template = ok(await s.call('templates/add', { name: `geo${++n}`, channels: [{ sid: 'email', fields: { subject: 'From {lead._city}', html: '<p>{lead._fname} in {lead._city}, {lead._country} ({lead._tz})</p>' } }] })).data.id;
      const campaign = ok(await s.call('campaigns/triggers/add', { name: `geo${n}`, trigger_type: 'api_call', send_channel: 'email', resource_id: 1, db_id: db, content: [{ message_id: template }], is_active: true })).data.id;
      const r = ok(await s.call('campaigns/triggers/start', { id: campaign, custom_request: { _city: 'Ryazan', _tz: 'Europe/Moscow' }, dry_run: true })).data;
      assert.equal(r.audience, 1);
      assert.equal(r.preview[0].subject, 'From Ryazan');
      assert.equal(r.preview[0].html, '<p>Olly in Ryazan, RU (Europe/Moscow)</p>');
    });

    it("delivers a Java client's import_and_start: status 0, _sex 0, a date as a Long, an attachment", async () => {
      // The shape of the client collected for issue 19: Altcraft's import_and_start page
      // (https://guides.altcraft.com/en/developer-guide/campaigns/trigger-campaigns/22708362) with the profile object's forms.
      const template = ok(await s.call('templates/add', { name: `policy${++n}`, channels: [{ sid: 'email', fields: { subject: 'Your policy', html: '<p>Dear {lead._fname}, your policy of {lead.policy_date}.</p>' } }] })).data.id;
      const trigger = ok(await s.call('campaigns/triggers/add', { name: `policy${n}`, trigger_type: 'api_call', send_channel: 'email', resource_id: 1, db_id: db, content: [{ message_id: template }], is_active: true })).data.id;
      const r = await s.call('campaigns/triggers/import_and_start', {
        db_id: db,
        trigger_id: trigger,
        matching: 'email',
        email: 'client@example.com',
        data: { email: 'client@example.com', _fname: 'Ivan', _sex: 0, _status: 0, policy_date: 1_735_689_600_000, subscriptions: [{ resource_id: 1, channel: 'email', email: 'client@example.com', status: 0, priority: 0 }] },
        attach: [{ data: 'data:application/pdf;base64,JVBERi0xLjQK', name: 'policy.pdf' }],
        content: { number: 'P-1' },
      });
      assert.equal(r.body.error, 0, JSON.stringify(r.body));
      const [mail] = await smtp.waitFor(smtp.received.length + 1);
      const got = smtp.received.find((m) => m.to.includes('client@example.com')) ?? mail;
      assert.equal(got.mail.subject, 'Your policy');
      assert.match(String(got.mail.html), /Dear Ivan, your policy of 2025-01-01T00:00:00.000Z\./);
      assert.deepEqual(got.mail.attachments.map((a) => [a.filename, a.contentType]), [['policy.pdf', 'application/pdf']]);
    });

    it('applies the update functions of "Database fields functional update" (the page\'s examples verbatim)', async () => {
      // https://guides.altcraft.com/en/developer-guide/profiles/3113720
      const profile_id = ok(await s.call('profiles/import', { db_id: db, data: { email: `fn${++n}@example.com`, checks: 5000, returns: 2000, category: ['news'], myArrOfObject: [{ x: 'y', z: 0 }, { x: 'w' }] } })).profile_id;
      const update = (data: Record<string, unknown>) => s.call('profiles/update', { db_id: db, profile_id, data });
      ok(await update({ checks: { action: 'incr', value: 1000 }, returns: { action: 'incr', value: -1000 } }));
      ok(await update({ category: { action: 'add', value: ['cars', 'cats'] } }));
      ok(await update({ myObject: { action: 'upsert', value: 'y', submatch: 'x' } }));
      ok(await update({ myArrOfObject: { action: 'upsert', value: { x: 'y', z: 1 }, submatch: 'x' } }));
      let p = ok(await s.call('profiles/get', { db_id: db, matching: 'profile_id', profile_id })).data;
      assert.deepEqual([p.checks, p.returns, p.category, p.myObject, p.myArrOfObject], [6000, 1000, ['news', 'cars', 'cats'], { x: 'y' }, [{ x: 'y', z: 1 }, { x: 'w' }]]);
      ok(await update({ category: { action: 'delete', value: ['news'] }, _city: { action: 'set', value: 'Tver' }, checks: { action: 'unset' } }));
      p = ok(await s.call('profiles/get', { db_id: db, matching: 'profile_id', profile_id })).data;
      assert.deepEqual([p.category, p._city, p.checks], [['cars', 'cats'], 'Tver', undefined]);
      // The tag index follows: matching by the added tags finds the profile.
      assert.equal(ok(await s.call('profiles/get', { db_id: db, matching: 'custom', field_name: 'category', field_value: 'cars, cats' })).data.id, profile_id);
      const refused: [Record<string, unknown>, RegExp][] = [
        [{ _city: { action: 'incr', value: 1 } }, /field '_city': incr applies to int fields only/],
        [{ checks: { action: 'incr', value: 1.5 } }, /field 'checks': incr takes an integer value/],
        [{ checks: { action: 'remove', value: 1 } }, /field 'checks': action 'remove' is not an update function \(set, unset, incr, add, delete, upsert\)/],
        [{ email: { action: 'unset' } }, /field 'email' cannot be unset/],
        [{ myObject: { action: 'upsert', value: 1, submatch: '__proto__' } }, /'submatch' is not a property path/],
      ];
      for (const [data, text] of refused) {
        const r = await update(data);
        assert.equal(r.status, 400, JSON.stringify(data));
        assert.match(r.body.error_text, text);
      }
    });

    it('keeps a subscription\'s status when a re-import does not give one, and -1 means "do not change"', async () => {
      // "It is recommended to pass the parameter in the request only in cases where it is necessary to update
      // the subscription status" (profiles/import); "-1 ... do not change" (profiles/update_batch).
      const email = `keep${++n}@example.com`;
      const sub = (extra: Record<string, unknown>) => ({ resource_id: 1, channel: 'email', email, ...extra });
      ok(await s.call('profiles/import', { db_id: db, data: { email, subscriptions: [sub({ status: 'unsubscribed', priority: 4 })] } }));
      ok(await s.call('profiles/import', { db_id: db, data: { email, _fname: 'Crm', subscriptions: [sub({})] } }));
      ok(await s.call('profiles/import', { db_id: db, data: { email, subscriptions: [sub({ status: -1, priority: -1 })] } }));
      let [x] = (await get(email)).subscriptions;
      assert.deepEqual([x.status, x.priority], ['unsubscribed', 4]);
      ok(await s.call('profiles/import', { db_id: db, data: { email, subscriptions: [sub({ status: 0 })] } }));
      [x] = (await get(email)).subscriptions;
      assert.deepEqual([x.status, x.priority], ['subscribed', 4]);
    });

    it('stores, shows and counts subscriptions on notify, viber, whatsapp and telegram_bot, with cc_data, custom_fields and cats', async () => {
      // https://guides.altcraft.com/en/developer-guide/profiles/subscriptions/2195519 and the Subscription object page.
      const email = `chat${++n}@example.com`;
      const subscriptions = [
        { channel: 'telegram_bot', resource_id: 1, cc_data: { id: 1 } },
        { channel: 'whatsapp', resource_id: 1, cc_data: { phone: '+79000000000' } },
        { channel: 'viber', resource_id: 1, cc_data: { phone: '+7 900 000-00-01' }, status: 'unsubscribed' },
        { channel: 'notify', resource_id: 1, cc_data: { phone: '+79000000002' }, custom_fields: { _device_type: 'mob' }, cats: ['news_category'] },
        { channel: 'email', resource_id: 1, email_data: { email }, custom_fields: { custom_int_field_2: 20000 } },
      ];
      ok(await s.call('profiles/import', { db_id: db, data: { email, subscriptions } }));
      const shown = (await get(email)).subscriptions.map(({ id: _, ...rest }: Record<string, unknown>) => rest);
      assert.deepEqual(
        shown.sort((a: { channel: string }, b: { channel: string }) => a.channel.localeCompare(b.channel)),
        [
          { resource_id: 1, channel: 'email', email, status: 'subscribed', priority: 0, custom_fields: { custom_int_field_2: 20000 } },
          { resource_id: 1, channel: 'notify', cc_data: { phone: '+79000000002' }, status: 'subscribed', priority: 0, custom_fields: { _device_type: 'mob' }, cats: ['news_category'] },
          { resource_id: 1, channel: 'telegram_bot', cc_data: { id: 1 }, status: 'subscribed', priority: 0 },
          { resource_id: 1, channel: 'viber', cc_data: { phone: '+79000000001' }, status: 'unsubscribed', priority: 0 },
          { resource_id: 1, channel: 'whatsapp', cc_data: { phone: '+79000000000' }, status: 'subscribed', priority: 0 },
        ],
      );
      const counts = ok(await s.call('databases/get', { id: db })).data.subscriptions as { channel: string; status: string; count: number }[];
      for (const [channel, status] of [['telegram_bot', 'subscribed'], ['whatsapp', 'subscribed'], ['viber', 'unsubscribed'], ['notify', 'subscribed']]) {
        assert.equal(counts.find((c) => c.channel === channel && c.status === status)?.count, 1, `${channel} ${status} counted`);
      }
      const bad = await s.call('profiles/import', { db_id: db, data: { email, subscriptions: [{ channel: 'telegram_bot', resource_id: 1, cc_data: { id: 'abc' } }] } });
      assert.match(bad.body.error_text, /data\.subscriptions\[0\]\.cc_data\.id must be the Telegram chat id/);
      const viber = await s.call('campaigns/triggers/add', { name: `viber${n}`, trigger_type: 'api_call', send_channel: 'viber', resource_id: 1, db_id: db, content: [{ message_id: 1 }] });
      assert.equal(viber.status, 400);
      assert.match(viber.body.error_text, /send_channel 'viber': Salvo has no provider for this channel; campaigns send on email, sms, push/);
    });

    it('accepts detect_geo and skip_triggers, and refuses segments by name', async () => {
      // profiles/import: "detect_geo ... Detect location by _regip or _ip"; "add_to_segments [1, 2]".
      const email = `seg${++n}@example.com`;
      ok(await s.call('profiles/import', { db_id: db, detect_geo: true, skip_triggers: true, add_to_segments: [], data: { email, _ip: '94.231.119.122' } }));
      for (const key of ['add_to_segments', 'remove_from_segments']) {
        const r = await s.call('profiles/import', { db_id: db, [key]: [1, 2], data: { email } });
        assert.equal(r.status, 400);
        assert.equal(r.body.error_text, `field '${key}' is not supported: Salvo has no segments (select an audience with custom_request instead)`);
      }
    });
  });
}
