/**
 * What the console's users need from the API (issue 22): messages found by email or phone, an unknown
 * filter refused, a queued message cancelled, and roles on tokens (admin, editor, viewer, trigger), each
 * refused outside its role with a 403 naming it, with the last use recorded; templates' warnings for
 * variables that resolve to nothing, from templates/add|update and the dry run; an SMS preview's parts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setupShop, type Shop } from '../fixture.ts';
import { eventually, ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { startReceiver } from '../webhook-receiver.ts';

for (const kind of STORE_KINDS) {
  describe(`messages search, cancel and token roles (${kind})`, () => {
    let s: TestServer;
    let shop: Shop;
    const tokens: Record<string, string> = {};

    before(async () => {
      s = await startServer({ kind }); // no workers: messages stay queued until cancelled
      shop = await setupShop(s);
      for (const role of ['editor', 'viewer', 'trigger', 'admin']) {
        tokens[role] = ok(await s.call('tokens/add', { name: `${role}-1`, role })).data.token;
      }
    });
    after(async () => s.close());

    it('finds messages by email (any case) and by phone (exact), and refuses a key that is no filter', async () => {
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'a' } }));
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'b' } }));
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.sms, matching: 'phone', phone: '+79000000001', content: { code: '1' } }));

      const byEmail = ok(await s.call('messages/list', { email: 'JOHN@Example.COM' })).data;
      assert.deepEqual(byEmail.map((m: { address: string; channel: string }) => `${m.channel} ${m.address}`), ['email john@example.com']);
      const byPhone = ok(await s.call('messages/list', { phone: '+79000000001' })).data;
      assert.deepEqual(byPhone.map((m: { address: string; channel: string }) => `${m.channel} ${m.address}`), ['sms +79000000001']);
      assert.equal(ok(await s.call('messages/list', { phone: '79000000001' })).data.length, 0, 'a phone is matched exactly');
      assert.equal(ok(await s.call('messages/list', { email: 'nobody@example.com' })).data.length, 0);

      for (const m of ['messages/list', 'outbox/list', 'launches/list']) {
        const r = await s.call(m, { mail: 'x@example.com' });
        assert.equal(r.status, 400, m);
        assert.deepEqual(r.body, { error: 400, error_text: "field 'mail' is not allowed here", data: null }, m);
      }
    });

    it('cancels a queued message, and leaves one that is not queued alone', async () => {
      const [m] = ok(await s.call('messages/list', { email: 'ann@example.com' })).data;
      assert.equal(m.status, 'queued');
      const r = ok(await s.call('messages/cancel', { ids: [m.id] })).data;
      assert.deepEqual(r, { cancelled: 1, ids: [m.id] });
      const detail = ok(await s.call('messages/get', { id: m.id })).data;
      assert.equal(detail.status, 'failed');
      assert.match(detail.last_error, /cancelled by messages\/cancel/);
      assert.equal(detail.history.at(-1).status, 'failed');
      assert.deepEqual(ok(await s.call('messages/cancel', { ids: [m.id] })).data, { cancelled: 0, ids: [] }, 'a failed message is not cancelled again');
    });

    it('answers 403 naming the role for a method outside it, and lets each role do its own', async () => {
      const as = (role: string, method: string, body: Record<string, unknown> = {}) => s.call(method, { token: tokens[role], ...body });
      // viewer: reads, never writes or launches
      ok(await as('viewer', 'campaigns/triggers/list'));
      ok(await as('viewer', 'messages/list', { limit: 1 }));
      let r = await as('viewer', 'templates/add', { name: 'no', channels: [{ sid: 'email', fields: { subject: 'x', text: 'y' } }] });
      assert.equal(r.status, 403);
      assert.equal(r.body.error_text, "this token's role is viewer (read only): it may not call templates/add");
      r = await as('viewer', 'campaigns/triggers/start', { id: shop.campaigns.email, email: 'v@example.com' });
      assert.equal(r.status, 403);
      // trigger: launches, reads nothing
      ok(await as('trigger', 'campaigns/triggers/start', { id: shop.campaigns.email, email: 'bob@example.com', content: { email_title: 't' } }));
      r = await as('trigger', 'messages/list');
      assert.equal(r.status, 403);
      assert.equal(r.body.error_text, "this token's role is trigger (only the launch methods and v1.0 links): it may not call messages/list");
      // editor: writes, but no tokens and no provider secrets
      ok(await as('editor', 'templates/add', { name: 'by editor', channels: [{ sid: 'email', fields: { subject: 'x', text: 'y' } }] }));
      r = await as('editor', 'tokens/list');
      assert.equal(r.status, 403);
      assert.match(r.body.error_text, /role is editor \(everything except tokens and provider secrets\): it may not call tokens\/list/);
      r = await as('editor', 'resources/update', { id: shop.resource, sms: { sender: 'SHOP', smpp: { url: 'smpp://u:secret@127.0.0.1:2775' } } });
      assert.equal(r.status, 403);
      assert.match(r.body.error_text, /only an admin token may set provider secrets \(sms\.smpp\.url\)/);
      ok(await as('editor', 'resources/update', { id: shop.resource, email: { from_email: 'news@shop.example', from_name: 'Renamed' } }));
      ok(await as('admin', 'resources/update', { id: shop.resource, sms: { sender: 'SHOP', smpp: { url: 'smpp://u:secret@127.0.0.1:2775' } } }));
      // sent back as shown, the secret is kept: an editor may save the resource it read
      const shown = ok(await as('editor', 'resources/get', { id: shop.resource })).data;
      ok(await as('editor', 'resources/update', { id: shop.resource, sms: shown.sms }));
      // every token may ask who it is
      assert.deepEqual(ok(await as('trigger', 'tokens/me')).data, { name: 'trigger-1', role: 'trigger', grants: 'only the launch methods and v1.0 links', access: ['launch', 'self'] });
    });

    it('lists tokens with role and last use, never the secret, and requires a role after the first', async () => {
      const list = await eventually(async () => {
        const l = ok(await s.call('tokens/list')).data as { name: string; role: string; last_used: string | null }[];
        return l.find((t) => t.name === 'viewer-1')?.last_used ? l : null;
      }, 5000, 'the last use recorded');
      const viewer = list.find((t) => t.name === 'viewer-1')!;
      assert.equal(viewer.role, 'viewer');
      assert.ok(Date.now() - Date.parse(viewer.last_used!) < 120_000);
      assert.equal(list.find((t) => t.name === 'editor-1')!.role, 'editor');
      assert.ok(!JSON.stringify(list).includes(tokens.viewer), 'no token in the list');
      assert.ok(!JSON.stringify(list).includes('hash'));
      const r = await s.call('tokens/add', { name: 'no-role' });
      assert.equal(r.status, 400);
      assert.equal(r.body.error_text, "field 'role' is required");
      ok(await s.call('tokens/delete', { name: 'viewer-1' }));
      const gone = await eventually(async () => {
        const x = await s.call('messages/list', { token: tokens.viewer });
        return x.status === 403 && x;
      }, 15_000, 'the revoked token refused');
      assert.equal(gone.body.error_text, 'API token is not valid');
    });

    it('warns of variables that resolve to nothing: at save by field names, in a dry run by content and profile', async () => {
      const channels = [{ sid: 'email', fields: { subject: 'Order {apicontent.ordr.id}', html: '<p>{lead._fname} {lead.Segmnt}{if apicontent.note}{apicontent.note}{end}</p>', text: '{subscription.emial}' } }];
      const added = ok(await s.call('templates/add', { name: 'typos', channels })).data;
      assert.deepEqual(added.warnings, [
        'email.html: {lead.Segmnt} at line 1, column 19 resolves to nothing',
        'email.text: {subscription.emial} at line 1, column 2 resolves to nothing (there: id, resource_id, channel, email, phone, provider, subscription_id, keys, cc_data, status, priority, custom_fields, ...)',
      ]);
      const updated = ok(await s.call('templates/update', { id: added.id, channels: [{ sid: 'email', fields: { ...channels[0].fields, html: '<p>{lead.Segment}</p>', text: 'ok' } }] })).data;
      assert.deepEqual(updated.warnings, []);
      const campaign = ok(await s.call('campaigns/triggers/add', { name: 'typos', trigger_type: 'api_call', send_channel: 'email', resource_id: shop.resource, db_id: shop.db, content: [{ message_id: added.id }], is_active: true })).data.id;
      const dry = ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com', content: { order: { id: 7 } }, dry_run: true })).data;
      assert.equal(dry.preview.length, 1);
      assert.deepEqual(dry.warnings, ['email.subject: {apicontent.ordr.id} at line 1, column 8 resolves to nothing (there: order)']);
      assert.equal(dry.preview[0].subject, 'Order ');
    });

    it("shows an SMS preview's alphabet and parts", async () => {
      const dry = ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.sms, email: 'john@example.com', content: { code: 'x'.repeat(200) }, dry_run: true })).data;
      assert.deepEqual(dry.preview[0].sms, { encoding: 'GSM 03.38', parts: 2 });
      const ru = ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.sms, email: 'john@example.com', content: { code: 'код' }, dry_run: true })).data;
      assert.deepEqual(ru.preview[0].sms, { encoding: 'UCS-2', parts: 1 });
    });

    it('posts a signed webhook.test to an endpoint and answers what it said, storing nothing', async () => {
      const r = await startReceiver();
      try {
        const hook = ok(await s.call('webhooks/add', { url: `${r.url}/hook`, events: ['message.failed'] })).data;
        const good = ok(await s.call('webhooks/test', { id: hook.id })).data;
        assert.deepEqual([good.ok, good.status_code, good.error], [true, 200, null]);
        const [got] = r.at('/hook');
        assert.equal(got.json.type, 'webhook.test');
        assert.deepEqual(got.json.data, { webhook_id: hook.id });
        assert.match(String(got.headers['webhook-signature']), /^v1,/);
        r.answer = () => 503;
        const bad = ok(await s.call('webhooks/test', { id: hook.id })).data;
        assert.deepEqual([bad.ok, bad.status_code], [false, 503]);
        assert.deepEqual(ok(await s.call('webhooks/deliveries', { id: hook.id })).data, [], 'a test is no delivery');
        const missing = await s.call('webhooks/test', { id: 999 });
        assert.equal(missing.status, 404);
      } finally {
        await r.close();
      }
    });

    it('previews a template as edited, before it is saved, through a campaign that would send it', async () => {
      const edited = [{ sid: 'email', fields: { subject: 'Edited for {lead._fname}', html: '<p>{apicontent.ordr}</p>' } }];
      const before = ok(await s.call('templates/get', { id: shop.template })).data;
      // The inactive campaign works too: a preview launches nothing.
      const dry = ok(await s.call('templates/preview', { campaign_id: shop.campaigns.inactive, template_id: shop.template, channels: edited, email: 'john@example.com', content: { order: 5 } })).data;
      assert.equal(dry.preview.length, 1);
      assert.equal(dry.preview[0].subject, 'Edited for John');
      assert.equal(dry.preview[0].from, 'Renamed <news@shop.example>', 'the resource as an earlier test left it');
      assert.deepEqual(dry.warnings, ['email.html: {apicontent.ordr} at line 1, column 5 resolves to nothing (there: order)']);
      assert.deepEqual(ok(await s.call('templates/get', { id: shop.template })).data, before, 'nothing saved');
      // A new template (no template_id), on the SMS campaign: its alphabet and parts.
      const sms = ok(await s.call('templates/preview', { campaign_id: shop.campaigns.sms, channels: [{ sid: 'sms', fields: { text: 'Код {apicontent.code}' } }], email: 'john@example.com', content: { code: 7 } })).data;
      assert.equal(sms.preview[0].text, 'Код 7');
      assert.deepEqual(sms.preview[0].sms, { encoding: 'UCS-2', parts: 1 });
      const bad = await s.call('templates/preview', { campaign_id: shop.campaigns.email, channels: [{ sid: 'email', fields: { subject: '{if x}' } }], email: 'john@example.com' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error_text, /email\.subject: line 1/);
      const viewer = ok(await s.call('tokens/add', { name: 'viewer-2', role: 'viewer' })).data.token;
      const viewerPreview = await s.call('templates/preview', { token: viewer, campaign_id: shop.campaigns.email, channels: edited, email: 'john@example.com' });
      assert.equal(viewerPreview.status, 200, 'a preview reads: a viewer may');
    });

    it('renames a database and adds fields, refusing to change one', async () => {
      const db = ok(await s.call('databases/add', { name: 'grows', fields: [{ name: 'Plan', type: 'string' }] })).data.id;
      const updated = ok(await s.call('databases/update', { id: db, name: 'grown', fields: [{ name: 'Plan', type: 'string' }, { name: 'Score', type: 'int', indexed: true }] })).data;
      assert.deepEqual([updated.name, updated.fields.map((f: { name: string; type: string }) => `${f.name}:${f.type}`)], ['grown', ['Plan:string', 'Score:int']]);
      // The new field takes values at once, and is matched on (indexed).
      ok(await s.call('profiles/import', { db_id: db, email: 'g@example.com', data: { email: 'g@example.com', Score: 7 } }));
      assert.equal(ok(await s.call('profiles/get', { db_id: db, matching: 'custom', field_name: 'Score', field_value: 7 })).data.email, 'g@example.com');
      const changed = await s.call('databases/update', { id: db, fields: [{ name: 'Plan', type: 'int' }] });
      assert.equal(changed.status, 400);
      assert.equal(changed.body.error_text, "field 'fields[0]': Plan is already a string field; a field cannot be changed, only added");
      const taken = await s.call('databases/update', { id: db, name: 'shop' });
      assert.equal(taken.status, 409);
    });
  });
}
