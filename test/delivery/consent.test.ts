/**
 * Consent and bounces at send time: a profile or subscription that opted out after its launch is
 * skipped, not mailed; an address the SMTP server refuses for good (5xx to RCPT TO) marks its
 * subscription hardbounced, so the next launch skips it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, type TestServer } from '../helpers.ts';
import { addProfile, type Shop, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

describe('consent and bounces at send time', () => {
  let smtp: TestSmtp;
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    ({ s, smtp, shop } = await startShop({ workers: false }));
    smtp.rcptVerdict = (address) => (address === 'gone@example.com' ? { code: 550, message: '5.1.1 no such user' } : null);
    for (const who of ['late', 'gone']) {
      await addProfile(s, shop.db, { email: `${who}@example.com`, subscriptions: [{ resource_id: shop.resource, channel: 'email', email: `${who}@example.com` }] });
    }
  });
  after(() => stopShop(s, smtp));

  const messageOf = async (email: string, title: string) => {
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: title } });
    ok(r);
    return ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data[0];
  };
  const settled = (id: number) =>
    eventually(async () => {
      const m = ok(await s.call('messages/get', { id })).data;
      return !['queued', 'sending', 'waiting'].includes(m.status) && m;
    }, 15_000, `message ${id} to settle`);

  it('skips a profile unsubscribed after the launch, and one whose subscription was withdrawn', async () => {
    const global = await messageOf('late@example.com', 'after global unsubscribe');
    const bySubscription = await messageOf('ann@example.com', 'after subscription withdrawn');
    assert.equal(global.status, 'queued');
    ok(await s.call('profiles/update', { db_id: shop.db, email: 'late@example.com', data: { _status: 'unsubscribed' } }));
    ok(await s.call('profiles/update', { db_id: shop.db, email: 'ann@example.com', data: { subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'ann@example.com', status: 'unsubscribed' }] } }));
    s.app.startWorkers();

    const a = await settled(global.id);
    assert.equal(a.status, 'skipped');
    assert.equal(a.skip_reason, 'profile_unsubscribed');
    assert.match(a.history.at(-1).detail, /at send time/);
    const b = await settled(bySubscription.id);
    assert.equal(b.status, 'skipped');
    assert.equal(b.skip_reason, 'unsubscribed');
    assert.equal(smtp.received.filter((x) => /after/.test(x.mail.subject ?? '')).length, 0);
  });

  it('marks a refused address hardbounced and skips it on the next launch', async () => {
    const first = await settled((await messageOf('gone@example.com', 'bounce me')).id);
    assert.equal(first.status, 'failed');
    assert.match(first.last_error, /550/);
    const profile = ok(await s.call('profiles/get', { db_id: shop.db, email: 'gone@example.com' })).data;
    assert.equal(profile.subscriptions[0].status, 'hardbounced');

    const next = await messageOf('gone@example.com', 'bounce me again');
    assert.equal(next.status, 'skipped');
    assert.equal(next.skip_reason, 'hardbounced');
  });
});
