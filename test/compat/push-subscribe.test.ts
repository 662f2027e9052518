/**
 * push_subscribe from browser and app pages, authenticated by the resource's resource_token: Altcraft's
 * "Processing and adding a subscription",
 * https://guides.altcraft.com/en/developer-guide/application-push-notifications/2196103 ("If the profile
 * is not found, a new one will be created ... If there are no databases in the resource, then an error
 * will be returned").
 */
import assert from 'node:assert/strict';
import { createECDH, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { addCampaign } from '../fixture.ts';

const ALTCRAFT_PATH = '/push_subscribe';
const SALVO_PATH = '/api/v1.1/resources/push_subscribe';

interface Subscription {
  resource_id: number;
  channel: string;
  provider?: string;
  subscription_id?: string;
  status: string;
  keys?: { p256dh: string };
}

for (const kind of STORE_KINDS) {
  describe(`push_subscribe on ${kind}`, () => {
    let s: TestServer;
    let db: number;
    let other: number;
    let resource: number;
    let token: string;

    before(async () => {
      s = await startServer({ kind });
      db = ok(await s.call('databases/add', { name: 'app', fields: [{ name: 'Device_Owner', type: 'string', indexed: true }] })).data.id;
      other = ok(await s.call('databases/add', { name: 'second', fields: [] })).data.id;
      resource = ok(await s.call('resources/add', { name: 'App', channels: ['email', 'push'], email: { from_email: 'app@shop.example' } })).data.id;
      await addCampaign(s, { name: 'App news', db, resource, email: { subject: 's', text: 't' } });
      token = ok(await s.call('resources/get', { id: resource })).data.resource_token;
    });
    after(() => s.close());

    /** A page's call: JSON from another origin. */
    const subscribe = async (body: Record<string, unknown>, path = ALTCRAFT_PATH) => {
      const res = await fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://pages.example' }, body: JSON.stringify(body) });
      return { status: res.status, headers: res.headers, body: await res.json() };
    };
    const subscriptionsOf = async (profileId: string, dbId = db): Promise<Subscription[]> =>
      ok(await s.call('profiles/get', { db_id: dbId, matching: 'profile_id', profile_id: profileId })).data.subscriptions;
    const countProfiles = (dbId = db) => s.app.store.countProfiles(dbId);

    it('creates a profile for a new push token and answers it in the Altcraft envelope, with CORS for any origin', async () => {
      const r = await subscribe({ resource_token: token, subscriptions: [{ provider: 'android-firebase', subscription_id: 'fcm-token-1' }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(r.body.error, 0);
      assert.equal(r.body.error_text, 'Successful operation');
      assert.match(r.body.data.profile_id, /^[0-9a-f]{24}$/);
      assert.deepEqual(r.body.data.profiles, [{ db_id: db, profile_id: r.body.data.profile_id }]);
      const subs = await subscriptionsOf(r.body.data.profile_id);
      assert.deepEqual(subs.map((x) => [x.resource_id, x.channel, x.provider, x.subscription_id, x.status]), [[resource, 'push', 'android-firebase', 'fcm-token-1', 'subscribed']]);
    });

    it('finds the profile again by its subscription (no id), and unsubscribe sets the subscription unsubscribed', async () => {
      const first = (await subscribe({ resource_token: token, subscriptions: [{ provider: 'ios-apns', subscription_id: 'apns-token-1' }] })).body.data.profile_id;
      const before = await countProfiles();
      const again = await subscribe({ resource_token: token, subscriptions: [{ provider: 'ios-apns', subscription_id: 'apns-token-1', unsubscribe: true }] }, SALVO_PATH);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.data.profile_id, first);
      assert.equal(await countProfiles(), before);
      assert.deepEqual((await subscriptionsOf(first)).map((x) => [x.subscription_id, x.status]), [['apns-token-1', 'unsubscribed']]);
    });

    it('finds the profile by id (profile_id), adding a browser subscription with its keys; an unknown id makes a new profile', async () => {
      const app = (await subscribe({ resource_token: token, subscriptions: [{ provider: 'android-firebase', subscription_id: 'fcm-token-2' }] })).body.data.profile_id;
      const e = createECDH('prime256v1');
      e.generateKeys();
      const keys = { p256dh: e.getPublicKey().toString('base64url'), auth: randomBytes(16).toString('base64url') };
      const endpoint = 'https://fcm.googleapis.com/fcm/send/browser-1';
      const r = await subscribe({ resource_token: token, id: app, subscriptions: [{ provider: 'Chrome', subscription_id: endpoint, keys }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.data.profile_id, app);
      const subs = await subscriptionsOf(app);
      assert.deepEqual(subs.map((x) => x.subscription_id).sort(), ['fcm-token-2', endpoint]);
      assert.deepEqual(subs.find((x) => x.subscription_id === endpoint)?.keys, { p256dh: keys.p256dh });

      const unknown = await subscribe({ resource_token: token, id: 'ffffffffffffffffffffffff', matching: 'profile_id', subscriptions: [{ provider: 'Chrome', subscription_id: 'tok-3' }] });
      assert.equal(unknown.status, 200);
      assert.notEqual(unknown.body.data.profile_id, 'ffffffffffffffffffffffff');
    });

    it('matching custom finds the profile by the field_name field holding id, or creates it with that value', async () => {
      const owner = ok(await s.call('profiles/import', { db_id: db, data: { email: 'owner@example.com', Device_Owner: 'crm-77' } })).profile_id;
      const r = await subscribe({ resource_token: token, matching: 'custom', field_name: 'Device_Owner', id: 'crm-77', subscriptions: [{ provider: 'android-firebase', subscription_id: 'fcm-owner' }] });
      assert.equal(r.body.data.profile_id, owner);
      assert.deepEqual((await subscriptionsOf(owner)).map((x) => x.subscription_id), ['fcm-owner']);
      const made = await subscribe({ resource_token: token, matching: 'custom', field_name: 'Device_Owner', id: 'crm-78', subscriptions: [{ provider: 'android-firebase', subscription_id: 'fcm-78' }] });
      const got = ok(await s.call('profiles/get', { db_id: db, matching: 'custom', field_name: 'Device_Owner', field_value: 'crm-78' })).data;
      assert.equal(got._id, made.body.data.profile_id);
    });

    it('db_ids processes each database on its own: a profile in each', async () => {
      // From here on the resource reaches two databases.
      await addCampaign(s, { name: 'Second news', db: other, resource, email: { subject: 's', text: 't' } });
      const r = await subscribe({ resource_token: token, db_ids: [db, other], subscriptions: [{ provider: 'Chrome', subscription_id: 'tok-both' }] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const [a, b] = r.body.data.profiles;
      assert.deepEqual([a.db_id, b.db_id], [db, other]);
      assert.equal(r.body.data.profile_id, a.profile_id);
      assert.deepEqual((await subscriptionsOf(b.profile_id, other)).map((x) => x.subscription_id), ['tok-both']);
    });

    it('a wrong resource_token is 403 in the envelope and changes nothing; a rotated token stops working', async () => {
      const before = await countProfiles();
      const r = await subscribe({ resource_token: 'not-a-token', subscriptions: [{ provider: 'Chrome', subscription_id: 'tok-intruder' }] });
      assert.equal(r.status, 403);
      assert.deepEqual(r.body, { error: 403, error_text: 'resource_token is not valid', data: null });
      assert.equal(r.headers.get('access-control-allow-origin'), '*');
      assert.equal(await countProfiles(), before);

      const spare = ok(await s.call('resources/add', { name: 'Spare', channels: ['push'] })).data.id;
      const old = ok(await s.call('resources/get', { id: spare })).data.resource_token;
      ok(await s.call('resources/update', { id: spare, rotate_resource_token: true }));
      const stale = await subscribe({ resource_token: old, db_ids: [db], subscriptions: [{ provider: 'Chrome', subscription_id: 'tok-stale' }] });
      assert.equal(stale.status, 403);
      assert.equal(await countProfiles(), before);
    });

    it('refuses bad input with 400 naming the field, and a resource no campaign uses without db_ids', async () => {
      const sub = { provider: 'Chrome', subscription_id: 'tok-x' };
      const cases: [Record<string, unknown>, string | RegExp][] = [
        [{ resource_token: token }, "field 'subscriptions' is required"],
        [{ subscriptions: [sub] }, "field 'resource_token' is required"],
        [{ resource_token: token, subscriptions: [{ provider: 'Chrome' }] }, "field 'subscriptions[0].subscription_id' is required"],
        [{ resource_token: token, subscriptions: Array.from({ length: 21 }, (_, i) => ({ ...sub, subscription_id: `t${i}` })) }, /^field 'subscriptions' must NOT have more than 20 items/],
        [{ resource_token: token, subscriptions: [] }, "field 'subscriptions' must name at least one subscription"],
        [{ resource_token: token, matching: 'email', subscriptions: [sub] }, "field 'matching' must be 'custom' or 'profile_id' (or absent), not 'email'"],
        [{ resource_token: token, id: 'nope', matching: 'profile_id', subscriptions: [sub] }, "field 'id' must be a 24-hex profile id for matching 'profile_id'"],
        [{ resource_token: token, subscriptions: [{ ...sub, keys: { p256dh: 'x', auth: 'y' } }] }, /^subscriptions\[0\]\.keys/],
        [{ resource_token: token, db_ids: [9999], subscriptions: [sub] }, `db_ids: database 9999 is not a database of resource ${resource}'s campaigns (${db}, ${other})`],
      ];
      const before = await countProfiles();
      for (const [body, text] of cases) {
        const r = await subscribe(body);
        assert.ok(r.status === 400 || r.status === 404, `${JSON.stringify(body).slice(0, 80)}: ${r.status}`);
        if (typeof text === 'string') assert.equal(r.body.error_text, text);
        else assert.match(r.body.error_text, text);
      }
      const spare = ok(await s.call('resources/add', { name: 'Unused', channels: ['push'] })).data.id;
      const unused = ok(await s.call('resources/get', { id: spare })).data.resource_token;
      const r = await subscribe({ resource_token: unused, subscriptions: [sub] });
      assert.equal(r.status, 400);
      assert.equal(r.body.error_text, `resource ${spare} is used by no campaign's database: add a campaign on it first`);
      // db_ids narrows, never adds: a public token cannot write into a database its campaigns do not reach.
      const outside = ok(await s.call('databases/add', { name: 'private', fields: [] })).data.id;
      const foreign = await subscribe({ resource_token: token, db_ids: [outside], subscriptions: [sub] });
      assert.equal(foreign.status, 400);
      assert.equal(await countProfiles(outside), 0);
      assert.equal(await countProfiles(), before);
    });

    it('answers the CORS preflight of both paths, and only theirs', async () => {
      for (const path of [ALTCRAFT_PATH, SALVO_PATH]) {
        const res = await fetch(`${s.url}${path}`, {
          method: 'OPTIONS',
          headers: { origin: 'https://pages.example', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
        });
        assert.equal(res.status, 204, path);
        assert.equal(res.headers.get('access-control-allow-origin'), '*');
        assert.match(res.headers.get('access-control-allow-methods')!, /POST/);
        assert.equal(res.headers.get('access-control-allow-headers'), 'content-type');
      }
      const api = await s.call('resources/get', { id: resource }, { headers: { origin: 'https://pages.example' } });
      assert.equal(api.headers.get('access-control-allow-origin'), null);
    });
  });
}
