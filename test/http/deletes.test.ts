/** templates/delete, campaigns/delete, resources/delete, databases/delete: 404, refusals naming the users, what a deleted campaign leaves. */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { addCampaign, setupShop, type Shop } from '../fixture.ts';
import { eventually, ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';

for (const kind of STORE_KINDS) {
  describe(`deletes (${kind})`, () => {
    let s: TestServer;
    let shop: Shop;
    before(async () => {
      s = await startServer({ kind, workers: true });
      shop = await setupShop(s);
    });
    after(() => s?.close());

    test('an entry that is not there is 404', async () => {
      for (const m of ['templates/delete', 'campaigns/delete', 'campaigns/triggers/delete', 'resources/delete', 'databases/delete']) {
        const r = await s.call(m, { id: 999 });
        assert.equal(r.status, 404, m);
      }
    });

    test('entries in use are refused, naming what uses them', async () => {
      const t = await s.call('templates/delete', { id: shop.template });
      assert.equal(t.status, 409);
      assert.match(t.body.error_text, new RegExp(`^template ${shop.template} is used by campaigns ${shop.campaigns.email}, ${shop.campaigns.sms}`));
      const r = await s.call('resources/delete', { id: shop.resource });
      assert.equal(r.status, 409);
      assert.match(r.body.error_text, /is used by campaigns [\d, ]+, \d+ subscriptions$/);
      const d = await s.call('databases/delete', { id: shop.db });
      assert.equal(d.status, 409);
      assert.match(d.body.error_text, /is used by campaigns [\d, ]+, 3 profiles in it$/);
    });

    test('a campaign with messages not yet sent is refused; deleted, its messages stay listed and its name is free', async () => {
      const id = await addCampaign(s, { name: 'To delete', db: shop.db, resource: shop.resource, template: shop.template, extra: { is_active: true } });
      // Workers deliver to the outbox; a message far in the future stays waiting: the refusal's case.
      ok(await s.call('campaigns/triggers/start', { id, email: 'ann@example.com', content: { email_title: 'x' } }));
      await eventually(async () => (await s.call('messages/list', { campaign_id: id })).body.data?.every((m: { status: string }) => m.status === 'captured'), 10_000, 'captured');
      const other = await addCampaign(s, { name: 'Still running', db: shop.db, resource: shop.resource, template: shop.template });
      ok(await s.call('campaigns/deactivate', { id: other }));
      // An inactive campaign cannot start: a message of it that is still queued is written below the API.
      await s.app.store.transaction(async (tx) => {
        const launch = await tx.insertLaunch({ campaign_id: other, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, Date.now(), 1);
        await tx.insertMessages(launch.id, [{ campaign_id: other, profile_id: shop.profiles.bob, subscription_id: null, channel: 'email', address: 'bob@example.com', status: 'waiting', skip_reason: null, priority: 0, next_attempt_at: Date.now() + 3_600_000, overrides: null, custom_data: null, variant: null, template_id: shop.template }], Date.now());
      });
      const refused = await s.call('campaigns/delete', { id: other });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.error_text, `campaign ${other} has 1 messages not yet sent: deactivate it with abort_if_running first (messages already being sent finish within the lease)`);
      ok(await s.call('campaigns/deactivate', { id: other, abort_if_running: true }));
      assert.deepEqual(ok(await s.call('campaigns/triggers/delete', { id: other })).data, null);

      const deleted = await s.call('campaigns/delete', { id });
      assert.deepEqual(deleted.body, { error: 0, error_text: 'Successful operation', data: null });
      assert.equal((await s.call('campaigns/triggers/get', { id })).status, 404);
      assert.equal((await s.call('campaigns/triggers/start', { id, email: 'ann@example.com' })).status, 404);
      assert.ok(!ok(await s.call('campaigns/triggers/list', {})).data.some((c: { id: number }) => c.id === id));
      assert.equal(ok(await s.call('messages/list', { campaign_id: id })).data.length, 1, 'its messages stay for statistics');
      assert.equal((await s.call('campaigns/delete', { id })).status, 404, 'deleted once');
      ok(await s.call('campaigns/triggers/add', { name: 'To delete', trigger_type: 'api_call', send_channel: 'email', resource_id: shop.resource, db_id: shop.db, content: [{ message_id: shop.template }] }));
    });

    test('unused entries are deleted, and a resource held by a deleted campaign is refused naming it', async () => {
      const template = ok(await s.call('templates/add', { name: 'spare', channels: [{ sid: 'email', fields: { subject: 's', text: 't' } }] })).data.id;
      assert.deepEqual((await s.call('templates/delete', { id: template })).body, { error: 0, error_text: 'Successful operation', data: null });
      assert.equal((await s.call('templates/get', { id: template })).status, 404);

      const resource = ok(await s.call('resources/add', { name: 'Spare', channels: ['email'], email: { from_email: 'spare@shop.example' } })).data.id;
      const db = ok(await s.call('databases/add', { name: 'spare' })).data.id;
      const campaign = await addCampaign(s, { name: 'Spare', db, resource, template: shop.template });
      // A profile without subscriptions: its message is skipped, but the launch is the campaign's history.
      ok(await s.call('profiles/import', { db_id: db, data: { email: 'nobody@example.com' } }));
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'nobody@example.com' }));
      ok(await s.call('campaigns/delete', { id: campaign }));
      const held = await s.call('resources/delete', { id: resource });
      assert.equal(held.status, 409);
      assert.match(held.body.error_text, new RegExp(`^resource ${resource} is used by deleted campaigns ${campaign} \\(kept for their statistics`));
      assert.equal((await s.call('databases/delete', { id: db })).status, 409);
      const unused = ok(await s.call('databases/add', { name: 'unused' })).data.id;
      ok(await s.call('databases/delete', { id: unused }));
      assert.equal((await s.call('databases/get', { id: unused })).status, 404);
      const other = ok(await s.call('resources/add', { name: 'Unused', channels: ['email'], email: { from_email: 'u@shop.example' } })).data.id;
      ok(await s.call('resources/delete', { id: other }));
      assert.equal((await s.call('resources/get', { id: other })).status, 404);
    });
  });
}
