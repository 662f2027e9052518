/**
 * Which subscription a launch's message goes to, and the skipped messages (with their reasons) when
 * none fits: subscription status, global status, subscription_filter with not_strict, priority,
 * unconditional_sending, skip_minutes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, type TestServer } from '../helpers.ts';
import { addProfile, type Shop, shopCampaign, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

describe('subscription choice', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  let n = 0;

  before(async () => {
    ({ s, smtp, shop } = await startShop());
  });
  after(() => stopShop(s, smtp));

  const sub = (address: string, extra: Record<string, unknown> = {}) => ({ resource_id: shop.resource, channel: 'email', email: address, ...extra });
  /** A new profile with these subscriptions (and profile fields), matched by a fresh email. */
  const person = async (subscriptions: Record<string, unknown>[], fields: Record<string, unknown> = {}) => {
    const email = `p${++n}@example.com`;
    await addProfile(s, shop.db, { email, subscriptions, ...fields });
    return email;
  };
  /**
   * The one message a start made: its status, skip reason and address. Each call has its own
   * X-Request-ID: some tests repeat a body on purpose, which deduplication would otherwise answer.
   */
  const launch = async (body: Record<string, unknown>, campaign = shop.campaigns.email) => {
    const r = await s.call('campaigns/triggers/start', { id: campaign, ...body }, { headers: { 'x-request-id': `sub-test-${++n}` } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
    return m as { id: number; status: string; skip_reason: string | null; address: string | null };
  };

  /** Not skipped: queued, or already on its way. */
  const sent = (m: { status: string }) => ['queued', 'sending', 'sent'].includes(m.status);

  it('records a found profile without a fitting subscription as skipped, with the reason', async () => {
    const cases: [Record<string, unknown>[], Record<string, unknown>, string][] = [
      [[sub('a@example.com', { status: 'unsubscribed' })], {}, 'unsubscribed'],
      [[sub('a@example.com', { status: 'suspended' })], {}, 'suspended'],
      [[], {}, 'no_subscription'],
      [[{ resource_id: shop.other, channel: 'email', email: 'o@example.com' }], {}, 'no_subscription'],
      [[sub('a@example.com')], { _status: 'suspended' }, 'profile_suspended'],
      [[sub('a@example.com')], { _status: 'unsubscribed' }, 'profile_unsubscribed'],
    ];
    for (const [subs, fields, reason] of cases) {
      const email = await person(subs, fields);
      const m = await launch({ email });
      assert.deepEqual([m.status, m.skip_reason, m.address], ['skipped', reason, null], `${JSON.stringify(subs)} ${JSON.stringify(fields)}`);
    }
    const log = ok(await s.call('campaigns/log_v2', { id: shop.campaigns.email })).data;
    assert.match(log[0].message, /: 0 queued, 1 skipped \(profile_unsubscribed\)$/);
  });

  it('takes the subscribed subscription of highest priority', async () => {
    const email = await person([sub('low@example.com', { priority: 1 }), sub('high@example.com', { priority: 9 }), sub('top@example.com', { priority: 20, status: 'unsubscribed' })]);
    const m = await launch({ email, content: { email_title: 'priority' } });
    assert.equal(m.address, 'high@example.com');
    const mail = await eventually(async () => smtp.received.find((r) => r.mail.subject === 'priority'));
    assert.deepEqual(mail.to, ['high@example.com']);
  });

  it('uses the subscription the filter names; not_strict falls back, strict skips', async () => {
    const email = await person([sub('main@example.com', { priority: 5 }), sub('work@example.com'), sub('gone@example.com', { status: 'unsubscribed' })]);
    assert.equal((await launch({ email, subscription_filter: { email: 'work@example.com' } })).address, 'work@example.com');
    const strictMissing = await launch({ email, subscription_filter: { email: 'none@example.com', not_strict: false } });
    assert.deepEqual([strictMissing.status, strictMissing.skip_reason], ['skipped', 'filter_not_matched']);
    const loose = await launch({ email, subscription_filter: { email: 'none@example.com', not_strict: true } });
    assert.deepEqual([sent(loose), loose.address], [true, 'main@example.com']);
    const strictUnsubscribed = await launch({ email, subscription_filter: { email: 'gone@example.com' } });
    assert.deepEqual([strictUnsubscribed.status, strictUnsubscribed.skip_reason], ['skipped', 'unsubscribed']);
    const looseUnsubscribed = await launch({ email, subscription_filter: { email: 'gone@example.com', not_strict: true } });
    assert.equal(looseUnsubscribed.address, 'main@example.com');
  });

  it('filters push subscriptions by subscription_id and provider, and SMS by phone', async () => {
    const push = (id: string, provider: string, priority = 0) => ({ resource_id: shop.resource, channel: 'push', subscription_id: id, provider, priority });
    const email = await person([push('chrome-1', 'Chrome', 5), push('ff-1', 'Firefox'), { resource_id: shop.resource, channel: 'sms', phone: '+79000000555' }, { resource_id: shop.resource, channel: 'sms', phone: '+79000000556', priority: 3 }]);
    const content = { content: { body: 'b', path: 'p', code: 1 } };
    assert.equal((await launch({ email, ...content, subscription_filter: { subscription_id: 'ff-1', provider: 'Firefox' } }, shop.campaigns.push)).address, 'ff-1');
    const wrongProvider = await launch({ email, ...content, subscription_filter: { subscription_id: 'ff-1', provider: 'Chrome' } }, shop.campaigns.push);
    assert.equal(wrongProvider.skip_reason, 'filter_not_matched');
    assert.equal((await launch({ email, ...content }, shop.campaigns.push)).address, 'chrome-1');
    assert.equal((await launch({ email, ...content, subscription_filter: { phone: '+7 900 000 05 55' } }, shop.campaigns.sms)).address, '+79000000555');
    assert.equal((await launch({ email, ...content }, shop.campaigns.sms)).address, '+79000000556');
  });

  // The two tests below change a campaign's settings: each changes a campaign of its own, so a failure
  // leaves nothing changed for the other tests.
  it('sends to an unsubscribed subscription when the campaign sends unconditionally', async () => {
    const campaign = await shopCampaign(s, shop, 'Unconditional', { extra: { unconditional_sending: true } });
    const email = await person([sub('u@example.com', { status: 'unsubscribed' })]);
    const m = await launch({ email }, campaign);
    assert.deepEqual([sent(m), m.address], [true, 'u@example.com']);
    ok(await s.call('campaigns/triggers/update', { id: campaign, unconditional_sending: false }));
    assert.equal((await launch({ email }, campaign)).skip_reason, 'unsubscribed');
  });

  it('skips a profile that got the campaign within skip_minutes', async () => {
    const campaign = await shopCampaign(s, shop, 'Not twice in 10 minutes', { extra: { skip_minutes: 10 } });
    const email = await person([sub('r@example.com')]);
    assert.ok(sent(await launch({ email }, campaign)));
    const again = await launch({ email }, campaign);
    assert.deepEqual([again.status, again.skip_reason], ['skipped', 'recently_sent']);
    ok(await s.call('campaigns/triggers/update', { id: campaign, skip_minutes: 0 }));
    assert.ok(sent(await launch({ email }, campaign)));
  });
});
