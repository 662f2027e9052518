/**
 * What real Altcraft clients send, unchanged: URLs joined carelessly (duplicate or trailing slashes,
 * `?format=json`) and the value forms of Altcraft's own examples (a numeric `_status`), through HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { addProfile, type Shop, setupShop } from '../fixture.ts';

describe('real clients unchanged', () => {
  let s: TestServer;
  let shop: Shop;
  before(async () => {
    s = await startServer();
    shop = await setupShop(s);
  });
  after(() => s.close());

  const post = async (path: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token: TEST_TOKEN, ...body }) });
    return { status: res.status, headers: res.headers, body: await res.json() };
  };

  it('takes a method under duplicate and trailing slashes and with ?format=json, as the same method', async () => {
    const variants = [
      '/api/v1.1/campaigns/triggers/start',
      '/api/v1.1/campaigns/triggers/start/',
      '/api/v1.1//campaigns/triggers/start/',
      '//api//v1.1//campaigns//triggers//start',
      '/api/v1.1/campaigns/triggers/start?format=json',
      '/api/v1.1//campaigns/triggers/start/?format=json',
    ];
    for (const [i, path] of variants.entries()) {
      const r = await post(path, { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'variant' } }, { 'Request-ID': `variant-${i}` });
      assert.equal(r.status, 200, `${path}: ${JSON.stringify(r.body)}`);
      assert.deepEqual(r.body, { error: 0, error_text: 'Successful operation', data: null }, path);
      assert.ok(Number(r.headers.get('launch-id')) > 0, path);
    }
    const listed = await post('/api/v1.1//databases/list/?format=json', {});
    assert.equal(listed.body.error, 0);
    assert.deepEqual(
      listed.body.data.map((d: { name: string }) => d.name),
      ['shop'],
    );
  });

  it('deduplicates a repeat sent to another spelling of the same path (the key is the method, not the spelling)', async () => {
    const body = { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'once' } };
    const first = await post('/api/v1.1/campaigns/triggers/start', body);
    const again = await post('/api/v1.1//campaigns/triggers/start/?format=json', body);
    assert.equal(first.headers.get('duplicate-request'), null);
    assert.equal(again.headers.get('duplicate-request'), 'true');
    assert.equal(again.headers.get('launch-id'), first.headers.get('launch-id'));
  });

  it('still answers an unknown method 404 in the envelope, whatever the slashes', async () => {
    const r = await post('/api/v1.1//databases/drop/', {});
    assert.equal(r.status, 404);
    assert.equal(r.body.error, 404);
    assert.match(r.body.error_text, /no such method: POST \/api\/v1\.1\/\/databases\/drop\//);
  });

  it('reads _status given as its number (or a numeric string) and answers the name; refuses other numbers naming the table', async () => {
    const cases: [unknown, string][] = [
      [0, 'active'],
      [1, 'unsubscribed'],
      [2, 'suspended'],
      [3, 'complainer'],
      [4, 'invalid'],
      ['2', 'suspended'],
      ['Unsubscribed', 'unsubscribed'],
      ['active', 'active'],
    ];
    for (const [given, meant] of cases) {
      const id = await addProfile(s, shop.db, { email: 'status@example.com', _status: given });
      const p = ok(await s.call('profiles/get', { db_id: shop.db, matching: 'profile_id', profile_id: id })).data;
      assert.equal(p._status, meant, `_status ${JSON.stringify(given)}`);
    }
    for (const bad of [5, -1, 1.5, 'gone', true]) {
      const r = await s.call('profiles/import', { db_id: shop.db, email: 'status@example.com', data: { _status: bad } });
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.match(r.body.error_text, /^field '_status' must be one of active, unsubscribed, suspended, complainer, invalid, or its number \(0 active, 1 unsubscribed, 2 suspended, 3 complainer, 4 invalid\)/);
    }
  });

  it('skips a profile whose numeric _status says it is suspended, as with the name', async () => {
    const id = await addProfile(s, shop.db, { email: 'numeric@example.com', _status: 2, subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'numeric@example.com' }] });
    const r = ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'numeric@example.com', content: { email_title: 'x' } }));
    assert.equal(r.error, 0);
    const [m] = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, status: 'skipped' })).data;
    assert.equal(m.profile_id, id);
    assert.equal(m.skip_reason, 'profile_suspended');
  });
});
