/** API v1.0 links: GET by email, MD5 and XXH64; POST with fields; a new link when the database changes. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, startServer, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { addCampaign, addProfile } from '../fixture.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

describe('API v1.0 links', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let db: number;
  let campaign: number;
  let resource: number;
  let template: number;
  let link: string;

  before(async () => {
    smtp = await startSmtp();
    s = await startServer({ workers: true, env: { SALVO_SMTP_URL: smtp.url, SALVO_PUBLIC_URL: 'https://trk.example.org/' } });
    db = ok(await s.call('databases/add', { name: 'v1', fields: [{ name: 'FirstName', type: 'string' }, { name: 'Order', type: 'string' }, { name: 'City', type: 'string' }, { name: 'Visits', type: 'int' }] })).data.id;
    resource = ok(await s.call('resources/add', { name: 'r', channels: ['email'], email: { from_email: 'shop@example.com' } })).data.id;
    campaign = await addCampaign(s, { name: 'v1', db, resource, email: { subject: 'v1 {apicontent.tag}', text: 'name={lead.FirstName} order={lead.Order} city={lead.City}' } });
    template = ok(await s.call('campaigns/triggers/get', { id: campaign })).data.content[0].message_id;
    await addProfile(s, db, { email: 'john@example.com', FirstName: 'Johnny', City: 'Oslo', subscriptions: [{ resource_id: resource, channel: 'email', email: 'john@example.com' }] });
    link = ok(await s.call('campaigns/triggers/get', { id: campaign })).data.call_url;
  });
  after(async () => {
    await s.close();
    await smtp.close();
  });

  /** The link as this test server serves it (call_url names the public base). */
  const local = (url: string, who: string) => url.replace('https://trk.example.org', s.url) + who;
  const mailWith = (tag: string) => eventually(async () => smtp.received.find((m) => m.mail.subject === `v1 ${tag}`), 10_000, `mail ${tag}`);

  it('shows an unguessable call_url on the configured base', () => {
    assert.match(link, /^https:\/\/trk\.example\.org\/trg\/[0-9a-f]{32}\/$/);
  });

  it('sends on GET by email, MD5 and XXH64 of the email', async () => {
    for (const who of ['John@Example.com', 'd4c74594d841139328695756648b6bd6', '0d1cf76dbb341cda']) {
      const res = await fetch(local(link, encodeURIComponent(who)), { headers: { 'x-request-id': `get-${who}` } });
      assert.equal(res.status, 200, who);
      assert.deepEqual(await res.json(), { error: 0, error_text: 'Successful operation', data: null });
      const launch = Number(res.headers.get('launch-id'));
      const [m] = ok(await s.call('messages/list', { launch_id: launch })).data;
      assert.equal(m.address, 'john@example.com', who);
    }
    await eventually(async () => smtp.received.filter((m) => m.mail.subject?.trim() === 'v1').length === 3, 10_000, 'three mails');
  });

  it('answers 404 for an unknown profile or link, 400 for a bad last segment, 403 for a bad token', async () => {
    const nobody = await fetch(local(link, 'nobody@example.com'));
    assert.equal(nobody.status, 404);
    assert.match((await nobody.json()).error_text, /^no profile found for email nobody@example.com in database \d+$/);
    const unknown = await fetch(`${s.url}/trg/${'0'.repeat(32)}/john@example.com`);
    assert.equal(unknown.status, 404);
    const bad = await fetch(local(link, 'not-a-hash'));
    assert.equal(bad.status, 400);
    assert.match((await bad.json()).error_text, /no email, MD5 \(32 hex\) or XXH64 \(16 hex\)/);
    const badToken = await fetch(`${local(link, 'john@example.com')}?token=wrong-token-123`);
    assert.equal(badToken.status, 403);
    const goodToken = await fetch(`${local(link, 'john@example.com')}?token=${TEST_TOKEN}`, { headers: { 'x-request-id': 'with-token' } });
    assert.equal(goodToken.status, 200);
  });

  it('uses POSTed fields by their option, and writes only option 2 to the database', async () => {
    const post = (fields: unknown[], tag: string) =>
      fetch(local(link, 'john@example.com'), { method: 'POST', body: JSON.stringify({ token: TEST_TOKEN, fields, content: { tag } }) });
    const res = await post(
      [
        { name: 'FirstName', value: 'Jason', option: 0 }, // not empty: ignored
        { name: 'Order', value: '123abc456-78', option: 1 }, // this message only
        { name: 'City', value: 'Bergen', option: 2 }, // message and database
        { name: 'NoSuchField', value: 'x', option: 2 }, // ignored
      ],
      'options',
    );
    assert.equal(res.status, 200, await res.clone().text());
    const mail = await mailWith('options');
    assert.equal(mail.mail.text?.trim(), 'name=Johnny order=123abc456-78 city=Bergen');
    const profile = ok(await s.call('profiles/get', { db_id: db, email: 'john@example.com' })).data;
    assert.deepEqual([profile.FirstName, profile.Order, profile.City], ['Johnny', undefined, 'Bergen']);

    await post([{ name: 'Order', value: 'filled-if-empty', option: 0 }], 'empty');
    assert.equal((await mailWith('empty')).mail.text?.trim(), 'name=Johnny order=filled-if-empty city=Bergen');
    assert.equal(ok(await s.call('profiles/get', { db_id: db, email: 'john@example.com' })).data.Order, undefined);

    const wrong = await post([{ name: 'Visits', value: 'many', option: 2 }], 'wrong');
    assert.equal(wrong.status, 400);
    assert.equal((await wrong.json()).error_text, "field 'Visits' must be an integer");
    const badOption = await post([{ name: 'City', value: 'x', option: 3 }], 'opt');
    assert.equal(badOption.status, 400);
  });

  it('gets a new link when the campaign database changes; the old one stops working', async () => {
    // A campaign of its own: this test changes it.
    const moving = await addCampaign(s, { name: 'v1 moving', db, resource, template });
    const link = ok(await s.call('campaigns/triggers/get', { id: moving })).data.call_url;
    const db2 = ok(await s.call('databases/add', { name: 'v1-other', fields: [{ name: 'FirstName', type: 'string' }, { name: 'Order', type: 'string' }, { name: 'City', type: 'string' }] })).data.id;
    await addProfile(s, db2, { email: 'john@example.com', FirstName: 'Other John', subscriptions: [{ resource_id: resource, channel: 'email', email: 'john@example.com' }] });
    const updated = ok(await s.call('campaigns/triggers/update', { id: moving, db_id: db2 })).data;
    assert.notEqual(updated.call_url, link);
    assert.match(updated.call_url, /\/trg\/[0-9a-f]{32}\/$/);
    const old = await fetch(local(link, 'john@example.com'), { headers: { 'x-request-id': 'old-link' } });
    assert.equal(old.status, 404);
    const fresh = await fetch(local(updated.call_url, 'john@example.com'), { method: 'POST', body: JSON.stringify({ content: { tag: 'rotated' } }) });
    assert.equal(fresh.status, 200);
    assert.match((await mailWith('rotated')).mail.text!, /name=Other John/);
    // Changing something else keeps the link.
    const renamed = ok(await s.call('campaigns/triggers/update', { id: moving, name: 'v1 renamed' })).data;
    assert.equal(renamed.call_url, updated.call_url);
  });
});
