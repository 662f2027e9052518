/**
 * A peer slower than the lease: the worker renews the leases of what it is still sending, so with no
 * crash every message is sent exactly once, however long the SMTP server takes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import { addProfile, startShop, stopShop, type Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

for (const kind of STORE_KINDS) describe(`an SMTP server slower than the lease (${kind})`, () => {
  let smtp: TestSmtp;
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    // A 1 s lease, 2.5 s per mail, 3 workers and 2 connections: every send, and every claim waiting
    // for a slot, outlives its first lease several times over.
    ({ s, smtp, shop } = await startShop({ kind, env: { SALVO_LEASE_SECONDS: '1', SALVO_WORKERS: '3', SALVO_SMTP_POOL: '2' } }));
    smtp.verdict = () => ({ delayMs: 2500 });
  });
  after(() => stopShop(s, smtp));

  it('sends every message once, with one attempt each', async () => {
    const emails = Array.from({ length: 8 }, (_, i) => `slow${i}@example.com`);
    for (const email of emails) await addProfile(s, shop.db, { email, subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });
    for (const email of emails) ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: 'slow peer' } }));

    const sent = await eventually(async () => {
      const list = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, limit: 100 })).data as { id: number; status: string }[];
      return list.length === emails.length && list.every((m) => m.status === 'sent') && list;
    }, 30_000, 'every message sent');
    // Sends still in flight would show up as a second delivery: give the server time to get any.
    await smtp.waitFor(emails.length);
    const perRecipient = new Map<string, number>();
    for (const r of smtp.received) for (const to of r.to) perRecipient.set(to, (perRecipient.get(to) ?? 0) + 1);
    assert.deepEqual([...perRecipient.entries()].sort(), emails.map((e) => [e, 1]).sort());
    for (const m of sent) {
      const full = ok(await s.call('messages/get', { id: m.id })).data;
      assert.equal(full.attempts, 1, `message ${m.id} was attempted ${full.attempts} times: ${JSON.stringify(full.history)}`);
    }
  });
});
