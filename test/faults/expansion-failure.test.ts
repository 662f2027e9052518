/**
 * A custom_request refused on the data while expanding (a regex over its work bound on one profile's
 * long value) ends its launch as failed, once, with the reason in the campaign log: it is neither
 * retried for ever by the expander nor left half-open.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import { addProfile, startShop, stopShop, type Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

for (const kind of STORE_KINDS) {
  describe(`a custom_request that fails while expanding (${kind})`, () => {
    let smtp: TestSmtp;
    let s: TestServer;
    let shop: Shop;

    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind }));
      await addProfile(s, shop.db, { email: 'long@example.com', Segment: 'y'.repeat(60_000), subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'long@example.com' }] });
    });
    after(() => stopShop(s, smtp));

    it('answers 400 and ends the launch as failed, with the reason logged once', async () => {
      const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, custom_request: { Segment: { $regex: '(a|b)+c' } }, content: { email_title: 'never' } });
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error_text, /custom_request/);
      const launchId = Number(r.headers.get('launch-id') ?? NaN);
      const log = await eventually(async () => {
        const entries = ok(await s.call('campaigns/log_v2', { id: shop.campaigns.email })).data as { text?: string; message?: string }[];
        const failed = entries.filter((e) => /failed while expanding/.test(JSON.stringify(e)));
        return failed.length > 0 && failed;
      }, 10_000, 'the campaign log to name the failure');
      assert.equal(log.length, 1);
      // The expander polls every 50 ms in tests: a retried launch would have logged again by now.
      const launches = await s.app.store.transaction(async (tx) => tx.claimExpandingLaunch(Date.now(), Date.now() + 1000));
      assert.equal(launches, null, 'no launch is left expanding');
      if (Number.isFinite(launchId)) assert.equal((await s.app.store.getLaunch(launchId))?.state, 'failed');
    });
  });
}
