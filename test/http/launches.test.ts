/**
 * What the console reads beyond the original API: launches/get and launches/list (a launch's progress),
 * messages/stats (the overview), outbox/attachment, messages/list by channel; and /ui itself. On both stores.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import Fastify from 'fastify';
import { uiRoutes } from '../../src/http/routes/ui.ts';
import { type Shop, setupShop } from '../fixture.ts';
import { eventually, ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';

const HOUR = 3_600_000;

for (const kind of STORE_KINDS) {
  describe(`launches, stats and outbox attachments (${kind})`, () => {
    let s: TestServer;
    let shop: Shop;

    before(async () => {
      // No workers yet: the messages stay queued until a test starts them.
      s = await startServer({ kind });
      shop = await setupShop(s);
    });
    after(() => s.close());

    const start = async (body: Record<string, unknown>) => {
      const r = await s.call('campaigns/triggers/start', body);
      ok(r);
      return Number(r.headers.get('launch-id'));
    };

    it('launches/get answers the launch of a Launch-Id, counted by status, complete once delivered', async () => {
      const launch = await start({ id: shop.campaigns.email, custom_request: { Tags: 'tag-1' }, content: { email_title: 'Hi' } });
      const queued = ok(await s.call('launches/get', { id: launch })).data;
      assert.deepEqual(
        { ...queued, created: undefined, updated: undefined },
        {
          id: launch, campaign_id: shop.campaigns.email, kind: 'start', state: 'done', total: 2, complete: false, created: undefined, updated: undefined,
          counts: { queued: 2, waiting: 0, sending: 0, sent: 0, captured: 0, failed: 0, skipped: 0, delivered: 0, undelivered: 0 },
        },
      );
      const stats = ok(await s.call('messages/stats')).data;
      assert.equal(stats.queue.queued, 2);
      assert.ok(stats.queue.oldest_queued_seconds >= 0);
      assert.equal(stats.last_hour.email.queued, 2);

      s.app.startWorkers();
      const done = await eventually(async () => {
        const l = ok(await s.call('launches/get', { id: launch })).data;
        return l.complete && l;
      }, 10_000, 'the launch delivered');
      assert.deepEqual(done.counts, { queued: 0, waiting: 0, sending: 0, sent: 0, captured: 2, failed: 0, skipped: 0, delivered: 0, undelivered: 0 });
      assert.equal(ok(await s.call('messages/stats')).data.queue.oldest_queued_seconds, null);
    });

    it('launches/get: an unknown launch is a 404, a bad id a 400', async () => {
      const missing = await s.call('launches/get', { id: 999_999 });
      assert.deepEqual([missing.status, missing.body.error_text], [404, 'launch 999999 not found']);
      const bad = await s.call('launches/get', { id: 'x' });
      assert.equal(bad.status, 400);
      assert.match(bad.body.error_text, /id/);
      assert.equal((await s.call('launches/get', {})).status, 400);
    });

    it('launches/list pages newest first, by campaign or all', async () => {
      const sms = await start({ id: shop.campaigns.sms, matching: 'phone', phone: '+79000000001', content: { code: '1234' } });
      const email = await start({ id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'Hi' } });
      const first = ok(await s.call('launches/list', { limit: 1 }));
      assert.deepEqual(first.data.map((l: { id: number }) => l.id), [email]);
      const second = ok(await s.call('launches/list', { limit: 1, cursor: first.next_cursor }));
      assert.deepEqual(second.data.map((l: { id: number }) => l.id), [sms]);
      const ofSms = ok(await s.call('launches/list', { campaign_id: shop.campaigns.sms }));
      assert.deepEqual(ofSms.data.map((l: { id: number }) => l.id), [sms]);
      assert.equal(ofSms.next_cursor, undefined);
      assert.equal((await s.call('launches/list', { limit: 101 })).status, 400);
    });

    it('messages/list filters by channel', async () => {
      // Empty of queued and of sending: messages/stats below counts every message as it settled.
      const settled = async () => ok(await s.call('messages/list', { status: 'queued' })).data.length === 0 && ok(await s.call('messages/list', { status: 'sending' })).data.length === 0;
      await eventually(settled, 10_000, 'the queue empty');
      const sms = ok(await s.call('messages/list', { channel: 'sms' })).data;
      assert.deepEqual(sms.map((m: { channel: string; address: string }) => [m.channel, m.address]), [['sms', '+79000000001']]);
      assert.ok(ok(await s.call('messages/list', { channel: 'email' })).data.every((m: { channel: string }) => m.channel === 'email'));
      assert.equal((await s.call('messages/list', { channel: 'fax' })).status, 400);
    });

    it('messages/stats counts by channel and status in the last hour and day; older messages in the day only', async () => {
      // A message made two hours ago, written as delivery would have left it.
      const { store } = s.app;
      const twoHoursAgo = Date.now() - 2 * HOUR;
      const old = await store.insertLaunch({ campaign_id: shop.campaigns.email, kind: 'start', state: 'done', content: {}, custom_data: null, audience: null, cursor: null }, twoHoursAgo);
      await store.insertMessages(
        old.id,
        [{ campaign_id: shop.campaigns.email, profile_id: shop.profiles.bob, subscription_id: null, channel: 'email', address: 'bob@example.com', status: 'failed', skip_reason: null, priority: 100, next_attempt_at: twoHoursAgo, overrides: null, custom_data: null, variant: null, template_id: null }],
        twoHoursAgo,
      );
      const stats = ok(await s.call('messages/stats')).data;
      assert.deepEqual(stats.last_hour.email, { queued: 0, waiting: 0, sending: 0, sent: 0, captured: 3, failed: 0, skipped: 0, delivered: 0, undelivered: 0 });
      assert.deepEqual(stats.last_day.email, { queued: 0, waiting: 0, sending: 0, sent: 0, captured: 3, failed: 1, skipped: 0, delivered: 0, undelivered: 0 });
      assert.deepEqual(stats.last_hour.sms, { queued: 0, waiting: 0, sending: 0, sent: 0, captured: 1, failed: 0, skipped: 0, delivered: 0, undelivered: 0 });
      assert.equal(stats.last_day.push.sent, 0);
      assert.deepEqual(stats.queue, { queued: 0, waiting: 0, sending: 0, oldest_queued_seconds: null });
    });

    it('outbox/attachment hands back a captured email\'s file as the data URL it was sent as', async () => {
      const csv = Buffer.from('id,total\n1,17\n');
      const launch = await start({
        id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'Invoice' },
        attach: [{ name: 'a.txt', data: `data:text/plain;base64,${Buffer.from('A').toString('base64')}` }, { name: '日本.csv', data: `data:text/csv;base64,${csv.toString('base64')}` }],
      });
      const [m] = ok(await s.call('messages/list', { launch_id: launch })).data;
      const [entry] = await eventually(async () => {
        const list = ok(await s.call('outbox/list', { message_id: m.id })).data;
        return list.length > 0 && list;
      }, 10_000, 'the email captured');
      assert.deepEqual(entry.extra.attachments, [{ name: 'a.txt', mime: 'text/plain', size: 1 }, { name: '日本.csv', mime: 'text/csv', size: csv.length }]);
      const file = ok(await s.call('outbox/attachment', { id: entry.id, index: 1 })).data;
      assert.deepEqual(file, { name: '日本.csv', mime: 'text/csv', size: csv.length, sha256: createHash('sha256').update(csv).digest('hex'), data: `data:text/csv;base64,${csv.toString('base64')}` });
      const beyond = await s.call('outbox/attachment', { id: entry.id, index: 2 });
      assert.deepEqual([beyond.status, beyond.body.error_text], [404, `outbox entry ${entry.id} has no attachment 2`]);
      assert.equal((await s.call('outbox/attachment', { id: 999_999, index: 0 })).status, 404);
      assert.equal((await s.call('outbox/attachment', { id: entry.id })).status, 400);
      // An SMS carries no files, even when its launch had some.
      const smsLaunch = await start({ id: shop.campaigns.sms, matching: 'phone', phone: '+79000000001', content: { code: '9' }, attach: [{ name: 'x.txt', data: 'data:text/plain;base64,eA==' }] });
      const [smsMessage] = ok(await s.call('messages/list', { launch_id: smsLaunch })).data;
      const [smsEntry] = await eventually(async () => {
        const list = ok(await s.call('outbox/list', { message_id: smsMessage.id })).data;
        return list.length > 0 && list;
      }, 10_000, 'the SMS captured');
      assert.equal((await s.call('outbox/attachment', { id: smsEntry.id, index: 0 })).status, 404);
    });

    it('the new methods need a token like every other', async () => {
      for (const method of ['launches/get', 'launches/list', 'messages/stats', 'outbox/attachment']) {
        const r = await s.call(method, { token: 'wrong' });
        assert.equal(r.status, 403, method);
      }
    });
  });
}

describe('/ui', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer();
  });
  after(() => s.close());

  it('serves the built console, with a fallback to index.html for client routes', async () => {
    const index = await fetch(`${s.url}/ui/`);
    assert.equal(index.status, 200, 'the console is built (npm run build; npm test builds it first)');
    assert.match(index.headers.get('content-type')!, /^text\/html/);
    assert.match(index.headers.get('content-security-policy')!, /script-src 'self';.*frame-ancestors 'self'/);
    assert.equal(index.headers.get('cache-control'), 'no-cache');
    const html = await index.text();
    const script = html.match(/\/ui\/assets\/[^"]+\.js/)![0];
    const asset = await fetch(`${s.url}${script}`);
    assert.equal(asset.status, 200);
    assert.match(asset.headers.get('cache-control')!, /immutable/);
    for (const path of ['/ui', '/ui/messages/12']) {
      const r = await fetch(`${s.url}${path}`);
      assert.deepEqual([path, r.status, await r.text()], [path, 200, html]);
    }
    assert.equal((await fetch(`${s.url}/ui/assets/missing.js`)).status, 404);
    // The console is no API method: the OpenAPI document does not list it.
    const openapi = await (await fetch(`${s.url}/openapi.json`)).json();
    assert.ok(!Object.keys(openapi.paths).some((p) => p.startsWith('/ui')));
  });

  it('says how to build the console when it is not built', async () => {
    const app = Fastify();
    await uiRoutes(app, '/nonexistent/dist/ui');
    const r = await app.inject({ url: '/ui/' });
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /The console is not built: run `npm run build`/);
    await app.close();
  });
});
