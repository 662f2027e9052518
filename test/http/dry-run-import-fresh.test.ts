/**
 * import_and_start with dry_run renders its preview inside the rolled-back transaction: on SQLite,
 * whose transaction holds the one connection, a template or resource the catalog has not cached (or
 * whose entry expired) must be read through that transaction, or the read waits for it forever.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Shop, startShop, stopShop } from '../fixture.ts';
import { ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';

for (const kind of STORE_KINDS) {
  describe(`import_and_start dry run with nothing cached (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;
    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind }));
    });
    after(() => stopShop(s, smtp));

    it('previews a campaign whose template and resource the catalog has never read', { timeout: 20_000 }, async () => {
      const resource = ok(await s.call('resources/add', { name: 'Fresh', channels: ['email'], email: { from_email: 'fresh@shop.example' } })).data.id;
      const template = ok(await s.call('templates/add', { name: 'fresh', channels: [{ sid: 'email', fields: { subject: 'Hi {lead._fname}', html: '<p>Hi</p>' } }] })).data.id;
      const campaign = ok(
        await s.call('campaigns/triggers/add', { name: 'fresh', trigger_type: 'api_call', send_channel: 'email', resource_id: resource, db_id: shop.db, content: [{ message_id: template }], is_active: true }),
      ).data.id;
      const body = { id: campaign, email: 'fresh@example.com', data: { _fname: 'Fresh', subscriptions: [{ resource_id: resource, channel: 'email', email: 'fresh@example.com' }] }, dry_run: true };
      const dry = ok(await s.call('campaigns/triggers/import_and_start', body)).data;
      assert.equal(dry.preview[0].subject, 'Hi Fresh');
    });
  });
}
