/**
 * Altcraft's quick import, `POST /api/integrations/any/profile_import`, as an Altcraft client or a web
 * form calls it: "Quick profile import", https://guides.altcraft.com/en/developer-guide/profiles/3113182
 * ("Data can be passed both in URL parameters and in the body of the request"; "Quick import returns
 * HTTP code and response description").
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, STORE_KINDS, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { type Shop, shopCampaign, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

const PATH = '/api/integrations/any/profile_import';

for (const kind of STORE_KINDS) {
  describe(`quick import on ${kind}`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;
    let welcome: number;

    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind }));
      welcome = await shopCampaign(s, shop, 'Welcome', { email: { subject: 'Welcome {lead._fname} #{lead.CRM_ID}', text: 'Hi {lead._fname}' } });
    });
    after(() => stopShop(s, smtp));

    /** A call as a client makes it: parameters in the URL, and a body of the given kind. */
    const post = async (query: Record<string, string>, body?: { json?: Record<string, unknown>; form?: Record<string, string> }, headers: Record<string, string> = {}) => {
      const url = `${s.url}${PATH}?${new URLSearchParams(query)}`;
      const init: RequestInit = { method: 'POST', headers };
      if (body?.json) {
        init.body = JSON.stringify(body.json);
        init.headers = { 'content-type': 'application/json', ...headers };
      }
      if (body?.form) init.body = new URLSearchParams(body.form); // fetch sends application/x-www-form-urlencoded
      const res = await fetch(url, init);
      return { status: res.status, type: res.headers.get('content-type'), text: await res.text(), headers: res.headers };
    };
    const profile = async (email: string) => ok(await s.call('profiles/get', { db_id: shop.db, email })).data;
    const missing = async (email: string) => (await s.call('profiles/get', { db_id: shop.db, email })).status === 404;

    it('imports from URL parameters only, reading field values as the field types, and answers 200 in plain text', async () => {
      const r = await post({ token: TEST_TOKEN, db_id: String(shop.db), email: 'Url@Example.com', _fname: 'Uma', CRM_ID: '42', Tags: 'a, b', _regip: '172.16.0.1', _regurl: 'https://shop.example/join' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.text, '200 Import successful');
      assert.match(r.type!, /^text\/plain/);
      const p = await profile('url@example.com');
      assert.equal(r.headers.get('profile-id'), p._id);
      assert.equal(p._fname, 'Uma');
      assert.equal(p.CRM_ID, 42);
      assert.deepEqual(p.Tags, ['a', 'b']);
      assert.equal(p._regip, '172.16.0.1');
      assert.equal(p._regurl, 'https://shop.example/join');
    });

    it('takes a JSON body, whose values override the URL, and updates the profile the email matches', async () => {
      const r = await post({ token: TEST_TOKEN, db_id: String(shop.db), _fname: 'FromUrl' }, { json: { email: 'url@example.com', _fname: 'FromBody', CRM_ID: 43 } });
      assert.equal(r.status, 200, r.text);
      const p = await profile('url@example.com');
      assert.equal(p._fname, 'FromBody');
      assert.equal(p.CRM_ID, 43);
      assert.equal(p._regurl, 'https://shop.example/join', 'fields not given are kept');
    });

    it('takes a web form (application/x-www-form-urlencoded) with resource_id: the email and phone become subscriptions', async () => {
      const form = { token: TEST_TOKEN, db_id: String(shop.db), resource_id: String(shop.resource), email: 'form@example.com', phone: '+7 900 000-00-77', _fname: 'Fiona', Segment: '' };
      const r = await post({}, { form });
      assert.equal(r.status, 200, r.text);
      const p = await profile('form@example.com');
      assert.deepEqual(p.phones, ['+79000000077']);
      assert.equal(p.Segment, undefined, 'a blank form input is not given');
      const subs = p.subscriptions.map((x: { channel: string; email?: string; phone?: string; resource_id: number; status: string }) => [x.resource_id, x.channel, x.email ?? x.phone, x.status]);
      assert.deepEqual(subs.sort(), [[shop.resource, 'email', 'form@example.com', 'subscribed'], [shop.resource, 'sms', '+79000000077', 'subscribed']]);
    });

    it('matches by a custom field (matching=field_name, the field named by field_name, its value its own parameter), and by phone', async () => {
      let r = await post({ token: TEST_TOKEN, db_id: String(shop.db), matching: 'field_name', field_name: 'CRM_ID', CRM_ID: '123420', Segment: 'vip' });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.headers.get('profile-id'), shop.profiles.john);
      assert.equal((await profile('john@example.com')).Segment, 'vip');
      r = await post({ token: TEST_TOKEN, db_id: String(shop.db), matching: 'phone', phone: '+79000000001', _lname: 'Doe' });
      assert.equal(r.status, 200, r.text);
      const john = await profile('john@example.com');
      assert.equal(john._lname, 'Doe');
      assert.deepEqual(john.phones, ['+79000000001']);
    });

    it('with trigger_id imports, subscribes and launches: the mail arrives; the same form posted again sends nothing more', async () => {
      const form = { token: TEST_TOKEN, db_id: String(shop.db), resource_id: String(shop.resource), trigger_id: String(welcome), email: 'new@example.com', _fname: 'Nina', CRM_ID: '7' };
      const first = await post({}, { form });
      assert.equal(first.status, 200, first.text);
      assert.ok(first.headers.get('launch-id'));
      const mails = await smtp.waitFor(1);
      const mail = mails.find((m) => m.to.includes('new@example.com'));
      assert.equal(mail?.mail.subject, 'Welcome Nina #7');
      assert.equal((await profile('new@example.com'))._fname, 'Nina');

      const again = await post({}, { form });
      assert.equal(again.status, 200);
      assert.equal(again.text, '200 Import successful');
      assert.equal(again.headers.get('duplicate-request'), 'true');
      assert.equal(again.headers.get('launch-id'), first.headers.get('launch-id'));
      assert.match(again.type!, /^text\/plain/);
      // Settled: the launch's message is done, so a second send would have happened by now.
      await eventually(async () => ok(await s.call('messages/list', { campaign_id: welcome, limit: 100 })).data.every((m: { status: string }) => m.status === 'sent'));
      assert.equal(smtp.received.filter((m) => m.to.includes('new@example.com')).length, 1);
    });

    it('a missing or wrong token is 403 "Invalid API key" and changes nothing', async () => {
      for (const token of [undefined, 'not-the-token']) {
        const query: Record<string, string> = { db_id: String(shop.db), email: 'intruder@example.com' };
        if (token) query.token = token;
        const r = await post(query);
        assert.equal(r.status, 403);
        assert.equal(r.text, '403 Invalid API key');
      }
      assert.ok(await missing('intruder@example.com'));
    });

    it('refuses bad input with 400 and the problem, naming the parameter, and changes nothing', async () => {
      const base = { token: TEST_TOKEN, db_id: String(shop.db), email: 'bad@example.com' };
      const cases: [Record<string, string>, string][] = [
        [{ ...base, CRM_ID: 'forty' }, "400 Bad request: field 'CRM_ID' must be an integer for int field 'CRM_ID'"],
        [{ ...base, db_id: 'one' }, "400 Bad request: parameter 'db_id' must be an integer id"],
        [{ token: TEST_TOKEN, email: 'bad@example.com' }, "400 Bad request: parameter 'db_id' is required"],
        [{ ...base, matching: 'custom' }, "400 Bad request: parameter 'matching' must be one of email, email_profile, phone, field_name, not 'custom'"],
        [{ ...base, workflow_id: '3' }, "400 Bad request: parameter 'workflow_id': Salvo has no scenarios (workflows); use trigger_id to launch a trigger campaign"],
        [{ ...base, Nope: 'x' }, `400 Bad request: field 'Nope' is not a field of database ${shop.db}`],
        [{ ...base, email: 'not-an-email' }, "400 Bad request: field 'email' is not a valid email: 'not-an-email'"],
        [{ token: TEST_TOKEN, db_id: String(shop.db), _fname: 'X' }, "400 Bad request: parameter 'email' is required for matching 'email'"],
        [{ ...base, matching: 'field_name', field_name: 'CRM_ID' }, "400 Bad request: parameter 'CRM_ID' is required for matching 'field_name'"],
      ];
      for (const [query, text] of cases) {
        const r = await post(query);
        assert.equal(r.status, 400, JSON.stringify(query));
        assert.equal(r.text, text);
        assert.ok(!/\bat\b.*\.ts:\d+/.test(r.text), 'no stack trace');
      }
      assert.ok(await missing('bad@example.com'));
    });

    it('answers 404 for a database or resource that does not exist, and 409 when several profiles match', async () => {
      let r = await post({ token: TEST_TOKEN, db_id: '999', email: 'x@example.com' });
      assert.equal(r.status, 404);
      assert.equal(r.text, '404 No database or subscription resource found: database 999 not found');
      r = await post({ token: TEST_TOKEN, db_id: String(shop.db), email: 'x@example.com', resource_id: '999' });
      assert.equal(r.status, 404);
      assert.equal(r.text, '404 No database or subscription resource found: resource 999 not found');
      assert.ok(await missing('x@example.com'));
      ok(await s.call('profiles/import', { db_id: shop.db, data: { email: 'twin1@example.com', Custom_ID: 'twin' } }));
      ok(await s.call('profiles/import', { db_id: shop.db, data: { email: 'twin2@example.com', Custom_ID: 'twin' } }));
      r = await post({ token: TEST_TOKEN, db_id: String(shop.db), matching: 'field_name', field_name: 'Custom_ID', Custom_ID: 'twin', _fname: 'Which' });
      assert.equal(r.status, 409);
      assert.match(r.text, /^409 More than one profiles matches, inaccurate match: 2 profiles match Custom_ID/);
    });
  });
}
