/**
 * A message kept in the outbox because no provider is configured (email without SALVO_SMTP_URL) ends
 * `captured`, not `sent`: in messages/get and its history, the messages/list filter, launches/get and
 * messages/stats counts, and to webhooks as message.captured, which `*` endpoints get and
 * message.sent endpoints do not.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { setupShop, type Shop } from '../fixture.ts';
import { eventually, ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { type Receiver, startReceiver } from '../webhook-receiver.ts';

for (const kind of STORE_KINDS) {
  describe(`captured messages (${kind})`, () => {
    let s: TestServer;
    let shop: Shop;
    let r: Receiver;

    before(async () => {
      r = await startReceiver();
      s = await startServer({ kind, workers: true });
      shop = await setupShop(s);
    });
    after(async () => {
      await s.close();
      await r.close();
    });

    it('is captured everywhere, and posted as message.captured to * endpoints only', async () => {
      ok(await s.call('webhooks/add', { url: `${r.url}/all`, events: ['*'] }));
      ok(await s.call('webhooks/add', { url: `${r.url}/sent`, events: ['message.sent'] }));
      ok(await s.call('webhooks/add', { url: `${r.url}/captured`, events: ['message.captured'] }));
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'Hi' } }));
      const [m] = await eventually(async () => {
        const list = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, status: 'captured' })).data;
        return list.length === 1 && list;
      }, 15_000, 'the message captured');
      const detail = ok(await s.call('messages/get', { id: m.id })).data;
      assert.equal(detail.status, 'captured');
      assert.deepEqual(detail.history.at(-1), { status: 'captured', time: detail.history.at(-1).time, detail: 'captured in the outbox' });
      assert.ok(detail.sent, 'the time of the capture');
      assert.equal(ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, status: 'sent' })).data.length, 0, 'not listed as sent');

      const launch = ok(await s.call('launches/get', { id: m.launch_id })).data;
      assert.equal(launch.counts.captured, 1);
      assert.equal(launch.counts.sent, 0);
      assert.equal(launch.complete, true, 'captured is final');
      const stats = ok(await s.call('messages/stats')).data;
      assert.equal(stats.last_hour.email.captured, 1);
      assert.equal(stats.last_hour.email.sent, 0);

      const types = await eventually(async () => {
        const got = r.at('/all').map((x) => x.json.type);
        return got.includes('launch.done') && got;
      }, 15_000, 'the events of the launch');
      assert.deepEqual(types.sort(), ['launch.done', 'message.captured']);
      const [event] = r.at('/all').filter((x) => x.json.type === 'message.captured');
      assert.equal(event.json.data.status, 'captured');
      assert.equal(event.json.data.message_id, m.id);
      await eventually(async () => r.at('/captured').length === 1, 10_000, 'the message.captured endpoint');
      assert.equal(r.at('/sent').length, 0, 'a message.sent endpoint hears nothing of a captured message');
    });
  });
}
