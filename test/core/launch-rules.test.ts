import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeAttachments as decodeInSteps } from '../../src/core/attachments.ts';
import { audiencePredicate, planAudience } from '../../src/core/audience-plan.ts';
import { compileQuery } from '../../src/core/mongo-query.ts';
import { chooseSubscription } from '../../src/core/choose.ts';
import { ApiError } from '../../src/core/errors.ts';
import { parseLaunch as parseInSteps } from '../../src/core/launch-request.ts';
import { classifyFailure, retryDelay } from '../../src/core/retry.ts';
import type { Database, Profile, Subscription } from '../../src/core/types.ts';
import { runNow } from '../../src/support/steps.ts';

const parseLaunch = (...a: Parameters<typeof parseInSteps>) => runNow(parseInSteps(...a));
const decodeAttachments = (...a: Parameters<typeof decodeInSteps>) => runNow(decodeInSteps(...a));

const profile = (status: Profile['status'] = 'active'): Profile => ({ id: 'p', db_id: 1, email: null, phones: [], status, md5: null, xxh: null, data: {}, created_at: 0, updated_at: 0 });
let nextId = 1;
const sub = (address: string, extra: Partial<Subscription> = {}): Subscription => ({
  id: nextId++, profile_id: 'p', db_id: 1, resource_id: 1, channel: 'email', address, provider: null, keys: null, extra: null, status: 'subscribed', priority: 0, created_at: 0, updated_at: 0, ...extra,
});
const campaign = { send_channel: 'email' as const, resource_id: 1, unconditional_sending: false };
const pick = (subs: Subscription[], filter: Parameters<typeof chooseSubscription>[3] = null, p = profile(), c = campaign) => {
  const r = chooseSubscription(p, subs, c, filter);
  return 'subscription' in r ? r.subscription.address : `skip:${r.skip}`;
};

describe('subscription choice', () => {
  it('takes the first subscribed subscription of the campaign channel and resource', () => {
    const subs = [sub('u', { status: 'unsubscribed' }), sub('other', { resource_id: 2 }), sub('sms', { channel: 'sms' }), sub('ok'), sub('later')];
    assert.equal(pick(subs), 'ok');
    assert.equal(pick([sub('u', { status: 'unsubscribed' })]), 'skip:unsubscribed');
    assert.equal(pick([sub('x', { resource_id: 2 })]), 'skip:no_subscription');
    assert.equal(pick([sub('u', { status: 'hardbounced' })], null, profile(), { ...campaign, unconditional_sending: true }), 'u');
    assert.equal(pick([sub('ok')], null, profile('suspended')), 'skip:profile_suspended');
  });
  it('applies subscription_filter, strict or not', () => {
    const subs = [sub('a'), sub('b'), sub('c', { status: 'suspended' })];
    assert.equal(pick(subs, { email: 'b', not_strict: false }), 'b');
    assert.equal(pick(subs, { email: 'z', not_strict: false }), 'skip:filter_not_matched');
    assert.equal(pick(subs, { email: 'z', not_strict: true }), 'a');
    assert.equal(pick(subs, { email: 'c', not_strict: false }), 'skip:suspended');
    assert.equal(pick(subs, { email: 'c', not_strict: true }), 'a');
  });
});

describe('launch parameters', () => {
  const refused = (body: Record<string, unknown>, text: RegExp, code = 400) =>
    assert.throws(() => parseLaunch(body, 1024), (e: unknown) => e instanceof ApiError && e.code === code && text.test(e.text));

  it('reads the audience and ignores subscription_filter with custom_request', () => {
    const single = parseLaunch({ email: ' John@Example.com ', subscription_filter: { phone: '+7 900 000 00 00' } }, 1024);
    assert.deepEqual(single.audience, { kind: 'single', match: { mode: 'email', value: 'john@example.com', fieldName: null, resourceId: null } });
    assert.deepEqual(single.filter, { not_strict: false, phone: '+79000000000' });
    const query = parseLaunch({ custom_request: { a: 1 }, subscription_filter: { email: 'x@y.z' } }, 1024);
    assert.deepEqual([query.audience.kind, query.filter], ['query', null]);
    refused({ matching: 'email', email: 'a@b.co', custom_request: {} }, /custom_request is used only without matching/);
    refused({ matching: 'push_sub' }, /subscription_id/);
  });
  it('decodes attachments, names the bad one, and bounds their size', () => {
    const [a] = decodeAttachments([{ data: 'data:text/plain;charset=utf-8;base64,SEVMTE8K', name: 'US.txt' }], 100);
    assert.deepEqual([a.name, a.mime, a.data.toString()], ['US.txt', 'text/plain', 'HELLO\n']);
    assert.equal(decodeAttachments([{ data: 'data:;base64,AA==', name: 'x' }], 100)[0].mime, 'application/octet-stream');
    refused({ email: 'a@b.co', attach: [{ data: 'data:text/plain;base64,AA==', name: '../x' }] }, /attach\[0\]\.name/);
    refused({ email: 'a@b.co', attach: [{ data: 'data:text/plain,hello', name: 'x' }] }, /attach\[0\]\.data is not a base64 data URL/);
    refused({ email: 'a@b.co', attach: [{ data: `data:a/b;base64,${Buffer.alloc(2000).toString('base64')}`, name: 'x' }] }, /larger than the limit of 1024 bytes/, 413);
  });
});

describe('audience plans', () => {
  const db: Database = { id: 1, name: 'd', created_at: 0, fields: [{ name: 'CRM_ID', type: 'int', indexed: true }, { name: 'City', type: 'string', indexed: false }] };
  it('picks the narrowest pinned indexed field, else a scan', () => {
    assert.deepEqual(planAudience({ CRM_ID: { $in: [3, 1, 3] } }, db), { kind: 'keys', field: 'CRM_ID', lookup: { key: 'CRM_ID' }, keys: ['1', '3'] });
    assert.deepEqual(planAudience({ $and: [{ CRM_ID: { $in: [1, 2, 3] } }, { email: 'a@b.co' }] }, db), { kind: 'keys', field: 'email', lookup: 'email', keys: ['a@b.co'] });
    assert.equal(planAudience({ City: 'Oslo' }, db).kind, 'scan');
    assert.equal(planAudience({ CRM_ID: { $gt: 5 } }, db).kind, 'scan');
    assert.equal(planAudience({ CRM_ID: { $in: [1, null] } }, db).kind, 'scan', 'null matches missing fields: no index narrows it');
    assert.equal(planAudience({ $or: [{ CRM_ID: 1 }, { City: 'x' }] }, db).kind, 'scan');
    assert.deepEqual(planAudience({ phones: '+79000000000' }, db), { kind: 'keys', field: 'phones', lookup: { key: 'phones' }, keys: ['+79000000000'] });
  });
});

describe('audience predicates', () => {
  const db: Database = { id: 1, name: 'd', created_at: 0, fields: [{ name: 'F', type: 'string', indexed: true }, { name: 'G', type: 'int', indexed: false }] };
  const values = [1, '1', 2, '2', true, 'true', null, undefined, [1], ['2', 3], [], [[1]], { a: 1 }, 0, ''];
  const docs = values.flatMap((f) => values.map((g) => ({ _id: 'x', F: f, G: g }) as Record<string, unknown>));
  it('answer exactly what mingo answers, for every pinned field and type', () => {
    const queries = [
      { F: { $in: [1, '2', true] } },
      { F: '1' },
      { F: { $eq: 2 } },
      { F: { $in: ['1', 2] }, G: { $exists: true } },
      { G: 1 },
      { G: { $in: [2, '1'] }, F: { $ne: null } },
      { F: { $in: [1] }, $or: [{ G: 1 }, { G: '2' }] },
    ];
    for (const q of queries) {
      const fast = audiencePredicate(q, planAudience(q, db));
      const exact = compileQuery(q, 'q');
      for (const d of docs) assert.equal(fast(d), exact(d), `${JSON.stringify(q)} on ${JSON.stringify(d)}`);
    }
  });
});

describe('retry policy', () => {
  it('retries 4xx and connection errors, not 5xx', () => {
    assert.equal(classifyFailure({ responseCode: 451 }), 'transient');
    assert.equal(classifyFailure({ responseCode: 550 }), 'permanent');
    assert.equal(classifyFailure({ code: 'ECONNECTION' }), 'transient');
    assert.equal(classifyFailure({ code: 'EMESSAGE', permanent: true }), 'permanent');
    assert.equal(classifyFailure({}), 'transient');
  });
  it('backs off exponentially with jitter, capped', () => {
    assert.equal(retryDelay(1, 1000, 60_000, () => 0), 500);
    assert.equal(retryDelay(1, 1000, 60_000, () => 1), 1000);
    assert.equal(retryDelay(4, 1000, 60_000, () => 1), 8000);
    assert.equal(retryDelay(20, 1000, 60_000, () => 1), 60_000);
    const spread = new Set(Array.from({ length: 50 }, () => retryDelay(3, 1000, 60_000)));
    assert.ok(spread.size > 10 && [...spread].every((d) => d >= 2000 && d <= 4000));
  });
});
