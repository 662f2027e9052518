/**
 * profiles/delete, Altcraft's method, as a GDPR erasure; and profiles/erasures, its record. Altcraft's
 * page: https://guides.altcraft.com/en/developer-guide/profiles/28936545 ("This request deletes customer
 * profile data, including its events history and relations."). What a user sees afterwards: the profile
 * gone, its messages counted but saying nothing about the person, its outbox copies gone, nothing of it
 * left to send, others untouched.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { addProfile, setupShop, type Shop } from '../fixture.ts';
import { eventually, ok, STORE_KINDS, startServer, TEST_TOKEN, type TestServer } from '../helpers.ts';

const ATTACHMENT = { data: 'data:text/plain;base64,SEVMTE8K', name: 'note.txt' };
/** A file only Erin is sent: its bytes leave the store with her erasure. SHA-256 of "for Erin\n". */
const ERINS_FILE = { data: `data:text/plain;base64,${Buffer.from('for Erin\n').toString('base64')}`, name: 'erin.txt' };
const ERINS_FILE_SHA256 = createHash('sha256').update('for Erin\n').digest('hex');

for (const kind of STORE_KINDS) {
  describe(`profiles/delete (${kind})`, () => {
    /** Delivers to the outbox (no SMTP server): what was captured can be read back. */
    let s: TestServer;
    let shop: Shop;

    before(async () => {
      s = await startServer({ kind, workers: true });
      shop = await setupShop(s);
    });
    after(() => s.close());

    const start = async (body: Record<string, unknown>) => {
      const r = await s.call('campaigns/triggers/start', body);
      ok(r);
      return Number(r.headers.get('launch-id'));
    };
    const messagesOf = async (launch: number) => ok(await s.call('messages/list', { launch_id: launch })).data as { id: number; profile_id: string; status: string }[];
    const sentMessages = (launch: number, n: number) =>
      eventually(async () => {
        const list = await messagesOf(launch);
        return list.length === n && list.every((m) => m.status === 'captured') && list;
      }, 15_000, `${n} captured messages of launch ${launch}`);
    const outboxOf = async (messageId: number) => ok(await s.call('outbox/list', { message_id: messageId })).data as unknown[];
    const addErin = (email: string) =>
      addProfile(s, shop.db, { email, _fname: 'Erin', Segment: 'vip', subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });

    it("answers Altcraft's request example with the erased profile's id, and profiles/get finds it no more", async () => {
      const id = await addProfile(s, shop.db, { email: 'example@example.com' });
      // The page's example verbatim, but for the token and the database this server has.
      const r = await s.call('profiles/delete', { token: TEST_TOKEN, db_id: shop.db, matching: 'email', email: 'example@example.com' });
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { data: { profile_id: id }, error: 0, error_text: 'Successful operation' });
      const get = await s.call('profiles/get', { db_id: shop.db, email: 'example@example.com' });
      assert.equal(get.status, 404);
      assert.equal(get.body.error, 404);
    });

    it("keeps a sent message's status and campaign without address, subject, body or details; its launch's content and its outbox copy go", async () => {
      const erin = await addErin('erin@example.com');
      const own = await start({
        id: shop.campaigns.email,
        matching: 'profile_id',
        profile_id: erin,
        content: { email_title: 'For Erin only', data_lines: ['secret line'] },
        custom_data: { order: 'erin-42' },
        attach: [ATTACHMENT, ERINS_FILE],
      });
      const shared = await start({
        id: shop.campaigns.email,
        custom_request: { email: { $in: ['erin@example.com', 'ann@example.com'] } },
        content: { email_title: 'For both', data_lines: ['shared line'] },
        custom_data: { batch: 'shared-7' },
        attach: [ATTACHMENT],
      });
      const [mine] = await sentMessages(own, 1);
      const both = await sentMessages(shared, 2);
      const annsMessage = both.find((m) => m.profile_id === shop.profiles.ann)!;
      const erinsShared = both.find((m) => m.profile_id === erin)!;
      await eventually(async () => (await outboxOf(mine.id)).length === 1 && (await outboxOf(annsMessage.id)).length === 1, 10_000, 'outbox copies');

      // What was sent names her until the erasure: the address, the text part, the attachment.
      const copy = ok(await s.call('messages/get', { id: mine.id })).data.sent_copy;
      assert.equal(copy.to, 'erin@example.com');
      assert.match(copy.text, /secret line/);
      assert.deepEqual(copy.attachments.map((a: { name: string }) => a.name), ['note.txt', 'erin.txt']);
      const fileStored = async (sha256: string) => (await s.app.store.readAttachmentFile(sha256)) !== null;
      assert.ok(await fileStored(ERINS_FILE_SHA256));

      ok(await s.call('profiles/delete', { db_id: shop.db, matching: 'profile_id', profile_id: erin }));

      const m = ok(await s.call('messages/get', { id: mine.id })).data;
      assert.equal(m.status, 'captured');
      assert.equal(m.campaign_id, shop.campaigns.email);
      assert.equal(m.launch_id, own);
      assert.equal(m.profile_id, erin, 'the opaque profile id stays, for counting');
      assert.ok(m.sent);
      for (const key of ['address', 'subject', 'body', 'sent_copy', 'last_error', 'custom_data', 'overrides']) assert.equal(m[key], null, key);
      assert.ok(m.history.length >= 3);
      assert.ok(m.history.every((h: Record<string, unknown>) => h.detail === undefined), JSON.stringify(m.history));
      assert.deepEqual(m.content, {}, "a launch of this profile alone loses its content");
      assert.deepEqual(m.attachments, []);
      assert.deepEqual(await outboxOf(mine.id), []);
      assert.equal(await fileStored(ERINS_FILE_SHA256), false, "the bytes of a file only her launches named are gone from the store");

      // The launch shared with Ann keeps its content and attachments (the documented limit); Erin's message in it is scrubbed.
      const e = ok(await s.call('messages/get', { id: erinsShared.id })).data;
      assert.equal(e.address, null);
      assert.equal(e.subject, null);
      assert.equal(e.sent_copy, null);
      assert.deepEqual(await outboxOf(erinsShared.id), []);
      const a = ok(await s.call('messages/get', { id: annsMessage.id })).data;
      assert.equal(a.status, 'captured');
      assert.equal(a.address, 'ann@example.com');
      assert.equal(a.subject, 'For both');
      assert.equal(a.sent_copy.to, 'ann@example.com');
      assert.deepEqual(a.custom_data, { batch: 'shared-7' });
      assert.equal(a.content.email_title, 'For both');
      assert.equal(a.attachments.length, 1);
      assert.equal(await fileStored(a.attachments[0].sha256), true, 'the file her launch shared with Ann stays');
      assert.equal((await outboxOf(annsMessage.id)).length, 1);
      assert.equal(ok(await s.call('profiles/get', { db_id: shop.db, email: 'ann@example.com' })).data.email, 'ann@example.com');
    });

    it('lists erasures newest first with the token name, of one database or all', async () => {
      const id = await addProfile(s, shop.db, { email: 'listed@example.com' });
      ok(await s.call('profiles/delete', { db_id: shop.db, email: 'listed@example.com' }));
      const list = ok(await s.call('profiles/erasures', { db_id: shop.db })).data;
      assert.equal(list[0].profile_id, id);
      assert.equal(list[0].db_id, shop.db);
      assert.equal(list[0].token, 'SALVO_TOKEN');
      assert.match(list[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
      assert.deepEqual(Object.keys(list[0]).sort(), ['db_id', 'id', 'profile_id', 'time', 'token']);
      assert.ok(list.length >= 3 && list.every((e: { id: number }, i: number) => i === 0 || e.id < list[i - 1].id));
      assert.equal(ok(await s.call('profiles/erasures', { limit: 1 })).data.length, 1);
      assert.deepEqual(ok(await s.call('profiles/erasures', { db_id: 999 })).data, []);
    });

    it('answers 404 when no profile matches, 409 when several do, and erases nothing then', async () => {
      const none = await s.call('profiles/delete', { db_id: shop.db, email: 'nobody@example.com' });
      assert.equal(none.status, 404);
      assert.equal(none.body.error, 404);
      await addErin('erin2@example.com');
      await addErin('erin3@example.com');
      const several = await s.call('profiles/delete', { db_id: shop.db, matching: 'custom', field_name: 'Segment', field_value: 'vip' });
      assert.equal(several.status, 409);
      assert.equal(several.body.error, 409);
      assert.match(several.body.error_text, /2 profiles match Segment/);
      assert.equal(ok(await s.call('profiles/get', { db_id: shop.db, email: 'erin2@example.com' })).data.Segment, 'vip');
    });

    it('answers 400 with the Altcraft envelope for a missing db_id or an unknown matching', async () => {
      for (const body of [{ email: 'ann@example.com' }, { db_id: shop.db, matching: 'nickname', email: 'ann@example.com' }]) {
        const r = await s.call('profiles/delete', body);
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.equal(r.body.error, 400);
        assert.equal(typeof r.body.error_text, 'string');
        assert.ok(r.body.error_text.length > 0);
      }
      assert.equal(ok(await s.call('profiles/get', { db_id: shop.db, email: 'ann@example.com' })).data.email, 'ann@example.com');
    });
  });

  describe(`profiles/delete of a profile with messages still to send (${kind})`, () => {
    /** No delivery until the test restarts it: messages stay queued, webhook deliveries pending. */
    let s: TestServer;
    let shop: Shop;

    before(async () => {
      s = await startServer({ kind, workers: false });
      shop = await setupShop(s);
    });
    after(() => s.close());

    it('skips its queued messages (profile_deleted), which never go out; pending webhook deliveries about it go, others stay', async () => {
      const hook = ok(await s.call('webhooks/add', { url: 'http://127.0.0.1:9/hook', events: ['*'] })).data.id;
      const bob = shop.profiles.bob;
      // Bob has an email subscription: queued. Bob and Ann have no SMS one: skipped at launch, a message.skipped each, pending.
      const queued = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: bob, content: { email_title: 'Hi Bob' } });
      ok(queued);
      const launch = Number(queued.headers.get('launch-id'));
      const [message] = ok(await s.call('messages/list', { launch_id: launch })).data;
      assert.equal(message.status, 'queued');
      for (const who of ['bob', 'ann']) ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.sms, matching: 'profile_id', profile_id: shop.profiles[who] }));
      const pending = async () => JSON.stringify(ok(await s.call('webhooks/deliveries', { id: hook, limit: 1000 })).data);
      assert.match(await pending(), new RegExp(bob));

      ok(await s.call('profiles/delete', { db_id: shop.db, email: 'bob@example.com' }));

      const m = ok(await s.call('messages/get', { id: message.id })).data;
      assert.equal(m.status, 'skipped');
      assert.equal(m.skip_reason, 'profile_deleted');
      assert.equal(m.address, null);
      const after = await pending();
      assert.doesNotMatch(after, new RegExp(bob));
      assert.match(after, new RegExp(shop.profiles.ann), "Ann's pending delivery stays");

      // Delivery starts: Ann's message goes out, Bob's never does.
      s = await s.restart({ workers: true });
      const annLaunch = Number((await s.call('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: shop.profiles.ann })).headers.get('launch-id'));
      const [annsMessage] = await eventually(async () => {
        const list = ok(await s.call('messages/list', { launch_id: annLaunch })).data;
        return list[0]?.status === 'captured' && list;
      }, 15_000, "Ann's message captured");
      assert.equal(ok(await s.call('outbox/list', { message_id: annsMessage.id })).data.length, 1);
      assert.deepEqual(ok(await s.call('outbox/list', { message_id: message.id })).data, []);
      assert.equal(ok(await s.call('messages/get', { id: message.id })).data.status, 'skipped');
    });
  });
}
