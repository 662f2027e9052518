/**
 * Generated malformed requests across every endpoint: each gets the envelope with a 4xx code and a
 * text (never a 500 or a stack trace), the server stays up, and the data is exactly as before.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { scanDatabase } from '../../src/engine/lookup.ts';
import type { Store } from '../../src/store/store.ts';
import { ok, startServer, STORE_KINDS, TEST_TOKEN, type TestServer } from '../helpers.ts';

type Json = unknown;

/** Values of the wrong kind for a leaf, chosen by the valid value's own kind. */
function wrongValues(valid: Json): Json[] {
  if (typeof valid === 'string') return [123, true, {}, []];
  if (typeof valid === 'number') return ['12x', true, {}, [], 1.5, 1e300];
  if (typeof valid === 'boolean') return ['yes', 1, {}, []];
  if (Array.isArray(valid)) return ['x', 1, {}, true];
  return ['x', 1, [], true];
}

/** Every path to a leaf (and to each array and object on the way) of a JSON value. */
function paths(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const here = prefix.length ? [prefix] : [];
  if (Array.isArray(v)) return [...here, ...v.flatMap((x, i) => paths(x, [...prefix, i]))];
  if (v !== null && typeof v === 'object') return [...here, ...Object.entries(v).flatMap(([k, x]) => paths(x, [...prefix, k]))];
  return here;
}

const get = (v: Json, p: (string | number)[]): Json => p.reduce<Json>((o, k) => (o as Record<string | number, Json>)[k], v);
function set(v: Json, p: (string | number)[], value: Json): Json {
  const copy = structuredClone(v);
  const parent = get(copy, p.slice(0, -1)) as Record<string | number, Json>;
  parent[p[p.length - 1]] = value;
  return copy;
}

/** A seeded generator, so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed / 2 ** 32;
  };
}

interface Endpoint {
  method: string;
  valid: Record<string, Json>;
  required: string[];
  /** Values invalid for a particular path that the generic ones miss (enums and the like). */
  extra?: [(string | number)[], Json][];
}

const WHOLE_BODIES = [
  '', ' ', 'null', 'true', '1', '"text"', '[]', '[1,2]', '{', '{"a":1', '{"a":1}}', "{'a':1}", 'undefined', '\u0000',
  '{"__proto__":{"polluted":1}}', '{"constructor":{"prototype":{"polluted":1}}}', '['.repeat(3000) + ']'.repeat(3000),
  '{"a":' + '{"b":'.repeat(2000) + '1' + '}'.repeat(2001), '\xff\xfe{garbage', '{"token":',
];

async function snapshot(store: Store): Promise<string> {
  const dbs = await store.listDatabases();
  const profiles = [];
  for (const db of dbs) for await (const page of scanDatabase(store, db.id)) profiles.push(...page);
  const campaigns = (await store.listCampaigns({ fromId: 0, limit: 1000, isActive: null })).rows;
  const logs = await Promise.all(campaigns.map((c) => store.listCampaignLog(c.id, 1000)));
  return JSON.stringify({
    dbs,
    resources: await store.listResources(),
    templates: await store.listTemplates(),
    campaigns,
    logs,
    profiles,
    subscriptions: await store.getSubscriptions(profiles.map((p) => p.id)),
    tokens: (await store.listTokens()).map((t) => t.name),
    launch: await store.getLaunch(1),
    messages: await store.listMessages({}, null, 1000),
    outbox: await store.listOutbox({}, null, 1000),
  });
}

for (const kind of STORE_KINDS) {
  describe(`malformed requests on ${kind}`, () => {
    let s: TestServer;
    const ids = { db: 0, resource: 0, template: 0, campaign: 0 };

    before(async () => {
      s = await startServer({ kind });
      ids.db = ok(await s.call('databases/add', { name: 'seed', fields: [{ name: 'CRM_ID', type: 'int', indexed: true }, { name: 'Tags', type: 'tags' }] })).data.id;
      ids.resource = ok(await s.call('resources/add', { name: 'seed', channels: ['email', 'sms'], email: { from_email: 'seed@example.com' } })).data.id;
      ids.template = ok(await s.call('templates/add', { name: 'seed', channels: [{ sid: 'email', fields: { subject: 'S', html: '<p>{lead.email}</p>' } }] })).data.id;
      ids.campaign = ok(
        await s.call('campaigns/triggers/add', { name: 'seed', send_channel: 'email', resource_id: ids.resource, db_id: ids.db, content: [{ message_id: ids.template }], is_active: true }),
      ).data.id;
      ok(await s.call('profiles/import', { db_id: ids.db, data: { email: 'seed@example.com', CRM_ID: 1, subscriptions: [{ resource_id: ids.resource, channel: 'email', email: 'seed@example.com' }] } }));
    });
    after(async () => s.close());

    it('answers at least 1,000 malformed bodies with errors and changes nothing', async (t) => {
      const { db, resource, template, campaign } = ids;
      const sub = { resource_id: resource, channel: 'email', email: 'fz@example.com', status: 'subscribed', priority: 1 };
      const profile = { db_id: db, matching: 'email', email: 'fz@example.com', data: { _fname: 'F', CRM_ID: 5, subscriptions: [sub] }, skip_invalid_subscriptions: false };
      const endpoints: Endpoint[] = [
        { method: 'databases/add', valid: { name: 'fz', fields: [{ name: 'F1', type: 'int', indexed: true }] }, required: ['name'], extra: [[['name'], 'x'.repeat(256)], [['name'], ''], [['fields', 0, 'type'], 'float'], [['fields', 0, 'name'], '_bad'], [['fields', 0, 'name'], 'email']] },
        { method: 'databases/get', valid: { id: db }, required: ['id'], extra: [[['id'], 999], [['id'], '9999999999']] },
        { method: 'databases/fields', valid: { id: db }, required: ['id'] },
        { method: 'databases/list', valid: {}, required: [] },
        {
          method: 'resources/add',
          valid: { name: 'fz', channels: ['email'], email: { from_email: 'a@b.co', from_name: 'A' }, sms: { sender: 'S' }, tracking_domain: 't.example.com' },
          required: ['name', 'channels'],
          extra: [[['channels', 0], 'fax'], [['email', 'from_email'], 'not-an-email'], [['tracking_domain'], 'bad domain/']],
        },
        { method: 'resources/get', valid: { id: resource }, required: ['id'], extra: [[['id'], 424242]] },
        { method: 'resources/list', valid: {}, required: [] },
        {
          method: 'templates/add',
          valid: { name: 'fz', channels: [{ sid: 'email', fields: { subject: 'S {lead.email}', html: '<p>x</p>' } }] },
          required: ['name', 'channels'],
          extra: [[['channels', 0, 'fields', 'subject'], 'x'.repeat(2001)], [['name'], 'x'.repeat(256)], [['channels', 0, 'sid'], 'fax'], [['channels', 0, 'fields', 'html'], '{if x}'], [['channels', 0, 'fields', 'subject'], '{lead.a'], [['channels', 0, 'fields', 'nope'], 'x'], [['channels'], []]],
        },
        { method: 'templates/get', valid: { id: template }, required: ['id'] },
        {
          method: 'templates/update',
          valid: { id: template, name: 'fz', channels: [{ sid: 'sms', fields: { text: 'x' } }] },
          required: ['id'],
          extra: [[['id'], 31337], [['channels', 0, 'fields', 'text'], '{end}'], [['name'], '']],
        },
        { method: 'templates/list', valid: {}, required: [] },
        ...(['profiles/import', 'profiles/update'] as const).map((method) => ({
          method,
          valid: profile,
          required: ['db_id', 'data'],
          extra: [
            [['matching'], 'fax'], [['email'], 'not-an-email'], [['data', 'Nope'], 1], [['data', '_md5'], 'x'], [['data', 'CRM_ID'], '5'],
            [['data', 'subscriptions', 0, 'channel'], 'fax'], [['data', 'subscriptions', 0, 'resource_id'], 999], [['data', 'subscriptions', 0, 'status'], 'gone'],
            [['data', 'subscriptions', 0, 'priority'], 1e12], [['db_id'], 999], [['data', 'phones'], ['12']], [['data', '_bdate'], '2023-02-30'], [['data', '_fname'], 'x'.repeat(70_000)], [['data', 'Tags'], 123], [['data', 'Tags'], [1]], [['data', 'Tags'], { a: 1 }],
          ] as [(string | number)[], Json][],
        })),
        {
          method: 'profiles/import_batch',
          valid: { db_id: db, data: [{ email: 'fzb@example.com', CRM_ID: 6, subscriptions: [sub] }] },
          required: ['db_id', 'data'],
          extra: [[['data', 0, 'email'], 'bad'], [['data', 0, 'Nope'], 1], [['matching'], 'profile_id'], [['data', 0, 'subscriptions', 0, 'resource_id'], 77]],
        },
        { method: 'profiles/get', valid: { db_id: db, matching: 'email', email: 'seed@example.com' }, required: ['db_id'], extra: [[['matching'], 'custom'], [['email'], 'none@example.com']] },
        {
          method: 'campaigns/triggers/add',
          valid: { name: 'fz', send_channel: 'email', resource_id: resource, db_id: db, content: [{ message_id: template, subject: 'S' }], is_active: true, skip_minutes: 1 },
          required: ['name', 'send_channel', 'resource_id', 'db_id', 'content'],
          extra: [[['send_channel'], 'fax'], [['send_channel'], 'sms'], [['trigger_type'], 'cron'], [['content'], []], [['content', 0, 'message_id'], 999], [['content', 0, 'subject'], '{if'], [['content_filter'], { $where: 'x' }], [['name'], 'seed'], [['attributes'], 'x'], [['attributes'], [1]], [['skip_minutes'], -1]],
        },
        {
          method: 'campaigns/triggers/update',
          valid: { id: campaign, name: 'fz', resource_id: resource, skip_minutes: 2 },
          required: ['id'],
          extra: [[['send_channel'], 'sms'], [['resource_id'], 999], [['db_id'], 999], [['content_filter'], { a: { $expr: 1 } }], [['id'], 999]],
        },
        { method: 'campaigns/triggers/get', valid: { id: campaign }, required: ['id'] },
        { method: 'campaigns/triggers/list', valid: { from_id: 1, limit: 10, is_active: true }, required: [], extra: [[['limit'], 0], [['limit'], 100_000]] },
        { method: 'campaigns/activate', valid: { id: campaign }, required: ['id'], extra: [[['id'], 999]] },
        { method: 'campaigns/deactivate', valid: { id: campaign, abort_if_running: true }, required: ['id'], extra: [[['id'], 999]] },
        { method: 'campaigns/get_status', valid: { id: campaign }, required: ['id'] },
        { method: 'campaigns/log_v2', valid: { id: campaign, limit: 5 }, required: ['id'], extra: [[['limit'], -1]] },
        {
          // Valid as it stands but for the profile, which does not exist: every variation must fail too.
          method: 'campaigns/triggers/start',
          valid: { id: campaign, matching: 'email', email: 'nobody@example.com', resource_id: resource, subscription_filter: { email: 'seed@example.com', not_strict: true } },
          required: [],
          extra: [
            [['matching'], 'fax'], [['matching'], 'profile_id'], [['matching'], 'custom'], [['matching'], 'push_sub'], [['email'], 'not-an-email'], [['id'], 999],
            [['custom_request'], { $where: '1' }], [['custom_request'], { a: { $function: {} } }], [['custom_request'], []], [['content'], [1]], [['custom_data'], 'x'],
            [['attach'], [{ data: 'data:text/plain;base64,@@', name: 'a.txt' }]], [['attach'], [{ data: 'text', name: 'a.txt' }]], [['attach'], [{ data: 'data:text/plain;base64,AA==' }]],
            [['attach'], 'x'], [['subscription_filter', 'phone'], '12'], [['trigger_id'], 'x'], [['profile_id'], 'x'.repeat(30)],
          ],
        },
        { method: 'messages/list', valid: { campaign_id: campaign, launch_id: 1, profile_id: 'p', status: 'sent', cursor: 5, limit: 10 }, required: [], extra: [[['status'], 'lost'], [['limit'], 0]] },
        { method: 'messages/get', valid: { id: 1 }, required: ['id'], extra: [[['id'], 0]] },
        { method: 'outbox/list', valid: { recipient: 'x', channel: 'email', message_id: 1, cursor: 2, limit: 5 }, required: [], extra: [[['channel'], 'fax']] },
        { method: 'outbox/get', valid: { id: 1 }, required: ['id'] },
      ];

      const before = await snapshot(s.app.store);
      const rnd = random(20261127);
      let sent = 0;
      const check = async (method: string, body: Json, raw?: string, headers: Record<string, string> = {}) => {
        sent++;
        const payload = raw ?? JSON.stringify(body && typeof body === 'object' && !Array.isArray(body) ? { token: TEST_TOKEN, ...body } : body);
        const res = await fetch(`${s.url}/api/v1.1/${method}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}`, ...headers }, body: payload });
        const text = await res.text();
        const what = `${method} ${(raw ?? JSON.stringify(body)).slice(0, 160)}`;
        let env: { error: number; error_text: string; data: unknown };
        try {
          env = JSON.parse(text);
        } catch {
          assert.fail(`${what}: answer is not JSON: ${text.slice(0, 200)}`);
        }
        assert.ok(res.status >= 400 && res.status < 500, `${what}: HTTP ${res.status} ${text.slice(0, 300)}`);
        assert.equal(env.error, res.status, what);
        assert.equal(typeof env.error_text, 'string', what);
        assert.ok(env.error_text.length > 0 && !/\n\s+at |Error:|node_modules/.test(env.error_text), `${what}: ${env.error_text}`);
        return env;
      };
      // import_batch reports bad items in place: the call succeeds and every item is an error.
      const checkBatch = async (body: Json) => {
        sent++;
        const r = await s.call('profiles/import_batch', body);
        if (r.status === 200) {
          for (const item of r.body.data) assert.ok(item.error >= 400 && typeof item.error_text === 'string', JSON.stringify(item));
        } else {
          assert.ok(r.status >= 400 && r.status < 500, `import_batch ${JSON.stringify(body).slice(0, 160)}: ${r.status}`);
        }
      };

      for (const e of endpoints) {
        const send = (body: Json) => (e.method === 'profiles/import_batch' ? checkBatch(body) : check(e.method, body));
        for (const p of paths(e.valid)) for (const bad of wrongValues(get(e.valid, p))) await send(set(e.valid, p, bad));
        for (const [p, bad] of e.extra ?? []) await send(set(e.valid, p, bad));
        for (const key of e.required) {
          const { [key]: _gone, ...rest } = e.valid;
          await send(rest);
        }
        for (const raw of WHOLE_BODIES) await check(e.method, null, raw);
        await check(e.method, null, JSON.stringify({ name: 'x'.repeat(s.config.bodyLimit + 10) }));
        // Two wrong leaves at once, at random.
        const all = paths(e.valid);
        for (let i = 0; all.length > 1 && i < 10; i++) {
          let body: Json = e.valid;
          for (const p of [all[Math.floor(rnd() * all.length)], all[Math.floor(rnd() * all.length)]]) {
            const wrong = wrongValues(get(e.valid, p));
            try {
              body = set(body, p, wrong[Math.floor(rnd() * wrong.length)]);
            } catch {
              // the first change removed the second path's parent
            }
          }
          await send(body);
        }
      }
      const tooLarge = await check('databases/add', null, JSON.stringify({ name: 'x'.repeat(s.config.bodyLimit + 10) }));
      assert.equal(tooLarge.error, 413);

      t.diagnostic(`${sent} malformed bodies sent`);
      assert.ok(sent >= 1000, `sent ${sent} malformed bodies`);
      assert.equal((await fetch(`${s.url}/health`)).status, 200);
      assert.equal(await snapshot(s.app.store), before, 'the data is unchanged');
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });
  });
}
