/**
 * Webhooks end to end, to a real HTTP receiver: custom_data back to a campaign-scoped hook with a
 * signature the documented verifier accepts, retries with one webhook-id, a restart between
 * attempts, a receiver that never answers, launch.done once and last for a 1,000-recipient launch.
 * Retries are due seconds to hours later: the test moves delivery's clock on rather than waiting.
 */
import assert from 'node:assert/strict';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { shopCampaign, startShop, stopShop, type Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';
import { startReceiver, type Receiver } from '../webhook-receiver.ts';

/** The Node.js verifier exactly as docs/api.md prints it. */
function documentedVerifier(): (secret: string, headers: Record<string, unknown>, body: string) => boolean {
  const doc = readFileSync(new URL('../../docs/api.md', import.meta.url), 'utf8');
  const block = /<!-- webhook-verifier-node -->\n```js\n([\s\S]*?)```/.exec(doc)?.[1];
  assert.ok(block, 'docs/api.md has the Node.js verifier');
  const code = block.replace(/^import .*$/m, '');
  return new Function('createHmac', 'timingSafeEqual', `${code}\nreturn verifyWebhook;`)(createHmac, timingSafeEqual);
}

for (const kind of STORE_KINDS) {
  describe(`webhooks (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;
    let r: Receiver;
    /** How far delivery's clock is ahead of the real one. */
    let ahead = 0;
    /** Paths that answer 503 for now. */
    const down = new Set<string>();
    /** Paths whose first request is never answered. */
    const hangFirst = new Set<string>();

    before(async () => {
      r = await startReceiver();
      r.answer = (req, nth) => {
        if (req.path === '/retry') return nth <= 2 ? 500 : 200;
        if (hangFirst.has(req.path) && nth === 1) return 'hang';
        return down.has(req.path) ? 503 : 200;
      };
      ({ s, smtp, shop } = await startShop({ kind, clock: () => Date.now() + ahead, env: { SALVO_WEBHOOK_TIMEOUT_MS: '500', SALVO_WEBHOOK_DISABLE_AFTER_HOURS: '1' } }));
    });
    after(async () => {
      await stopShop(s, smtp);
      await r.close();
    });

    const addHook = async (path: string, events: string[], campaignIds?: number[]) =>
      ok(await s.call('webhooks/add', { url: `${r.url}${path}`, events, ...(campaignIds ? { campaign_ids: campaignIds } : {}) })).data as { id: number; secret: string };
    const deliveries = async (id: number) => ok(await s.call('webhooks/deliveries', { id, limit: 1000 })).data;
    /**
     * Moves the clock on 30 s at a time until `check` holds, while no post of the hook is in flight: a
     * jump past the lease (60 s) of a post still waiting for its answer would have it retaken and posted twice.
     */
    const advanceUntil = <T>(hook: number, check: () => Promise<T | undefined | null | false>, what: string) =>
      eventually(async () => {
        const v = await check();
        if (!v && !(await deliveries(hook)).some((d: { status: string }) => d.status === 'sending')) ahead += 30_000;
        return v;
      }, 20_000, what);

    it('posts a trigger call\'s custom_data to a campaign-scoped hook, signed so the documented verifier accepts it', async () => {
      const hook = await addHook('/orders', ['message.sent'], [shop.campaigns.email]);
      assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]{32}$/);
      const other = await addHook('/sms-only', ['*'], [shop.campaigns.sms]);
      const customData = { order: 'A-1001', lines: [{ sku: 'x', qty: 2 }], note: null, 'ünï': 'cödé ✓' };
      const start = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'Hook' }, custom_data: customData });
      ok(start);
      const [got] = await eventually(async () => r.at('/orders').length > 0 && r.at('/orders'), 10_000, 'the event');
      assert.equal(got.json.type, 'message.sent');
      assert.ok(!Number.isNaN(Date.parse(got.json.timestamp)));
      const [m] = ok(await s.call('messages/list', { launch_id: Number(start.headers.get('launch-id')) })).data;
      assert.deepEqual(got.json.data, {
        message_id: m.id, launch_id: m.launch_id, campaign_id: shop.campaigns.email, profile_id: shop.profiles.john,
        channel: 'email', address: 'john@example.com', status: 'sent', custom_data: customData,
      });
      assert.equal(got.headers['content-type'], 'application/json');
      assert.match(String(got.headers['webhook-id']), /^msg_[0-9a-f]{24}_\d+$/);
      const verify = documentedVerifier();
      assert.equal(verify(hook.secret, got.headers, got.body), true, 'the documented verifier accepts it');
      assert.equal(verify(other.secret, got.headers, got.body), false, 'another secret does not');
      assert.equal(verify(hook.secret, got.headers, got.body.replace('A-1001', 'A-1002')), false, 'a changed body does not');
      // Events are written with the outcome, so the other campaign's hook would have its row by now.
      assert.deepEqual(await deliveries(other.id), []);
      const [d] = await eventually(async () => {
        const list = await deliveries(hook.id);
        return list[0]?.status === 'delivered' && list;
      }, 10_000, 'the attempt recorded');
      assert.deepEqual([d.attempts.length, d.attempts[0].status_code, d.event_id], [1, 200, got.headers['webhook-id']]);
    });

    it('retries a receiver that answers 500 twice, with one webhook-id, until it answers 200', async () => {
      const campaign = await shopCampaign(s, shop, 'Retried hooks');
      const hook = await addHook('/retry', ['message.sent'], [campaign]);
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'ann@example.com', content: { email_title: 'Retry' } }));
      const [queued] = await eventually(async () => {
        const list = await deliveries(hook.id);
        return list[0]?.attempts.length === 1 && list;
      }, 10_000, 'the first attempt');
      assert.equal(queued.status, 'queued');
      assert.deepEqual([queued.attempts[0].status_code, queued.attempts[0].error], [500, 'HTTP 500']);
      const wait = Date.parse(queued.next_attempt) - Date.parse(queued.attempts[0].time);
      // 5 s ±20 %, counted from the end of the attempt (its time is the start).
      assert.ok(wait >= 4000 && wait <= 6000 + queued.attempts[0].ms + 100, `the first retry waits 5 s ±20 % (${wait} ms)`);
      await advanceUntil(hook.id, async () => r.at('/retry').length === 3, 'three attempts');
      const attempts = r.at('/retry').filter((x) => x.json.type === 'message.sent');
      assert.equal(attempts.length, 3);
      assert.equal(new Set(attempts.map((a) => a.headers['webhook-id'])).size, 1);
      const done = await eventually(async () => (await deliveries(hook.id)).find((d: { status: string }) => d.status === 'delivered'), 10_000, 'delivered');
      assert.deepEqual(done.attempts.map((a: { status_code: number }) => a.status_code), [500, 500, 200]);
    });

    it('loses no event to a restart between attempts', async () => {
      const campaign = await shopCampaign(s, shop, 'Restarted hooks');
      down.add('/restart');
      const hook = await addHook('/restart', ['message.sent'], [campaign]);
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'bob@example.com', content: { email_title: 'Restart' }, custom_data: { k: 1 } }));
      await eventually(async () => (await deliveries(hook.id))[0]?.attempts.length === 1, 10_000, 'a failed attempt');
      s = await s.restart();
      down.delete('/restart');
      await advanceUntil(hook.id, async () => r.at('/restart').length === 2, 'the attempt after the restart');
      const [first, second] = r.at('/restart');
      assert.equal(first.headers['webhook-id'], second.headers['webhook-id']);
      assert.deepEqual(second.json.data.custom_data, { k: 1 });
      await eventually(async () => (await deliveries(hook.id))[0].status === 'delivered', 10_000, 'delivered');
    });

    it('retries a receiver that does not answer within the timeout', async () => {
      const campaign = await shopCampaign(s, shop, 'Slow hooks');
      hangFirst.add('/slow');
      const hook = await addHook('/slow', ['message.sent'], [campaign]);
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'ann@example.com', content: { email_title: 'Slow' } }));
      const [d] = await eventually(async () => {
        const list = await deliveries(hook.id);
        return list[0]?.attempts.length === 1 && list;
      }, 10_000, 'the timed-out attempt');
      assert.deepEqual([d.status, d.attempts[0].status_code, d.attempts[0].error], ['queued', null, 'no answer within 500 ms']);
      await advanceUntil(hook.id, async () => (await deliveries(hook.id))[0].status === 'delivered', 'delivered on the retry');
      assert.equal(r.at('/slow').length, 2);
    });

    it('posts launch.done once, after every message event, for a 1,000-recipient custom_request launch', async () => {
      const campaign = await shopCampaign(s, shop, 'Big launch hooks');
      const hook = await addHook('/big', ['*'], [campaign]);
      const data = Array.from({ length: 1000 }, (_, i) => ({
        email: `wave${i}@example.com`, Segment: 'wave', subscriptions: [{ resource_id: shop.resource, channel: 'email', email: `wave${i}@example.com` }],
      }));
      ok(await s.call('profiles/import_batch', { db_id: shop.db, data }));
      const start = await s.call('campaigns/triggers/start', { id: campaign, custom_request: { Segment: 'wave' }, content: { email_title: 'Wave' }, custom_data: { wave: 1 } });
      ok(start);
      const launch = Number(start.headers.get('launch-id'));
      await eventually(async () => r.at('/big').length >= 1001, 60_000, '1,000 message events and launch.done');
      const events = r.at('/big');
      const types = events.map((e) => e.json.type);
      assert.equal(types.filter((t) => t === 'launch.done').length, 1);
      assert.equal(types.at(-1), 'launch.done', 'launch.done comes after every message event');
      assert.equal(new Set(events.filter((e) => e.json.type === 'message.sent').map((e) => e.json.data.message_id)).size, 1000);
      const done = events.at(-1)!.json.data;
      assert.deepEqual(done, { launch_id: launch, campaign_id: campaign, total: 1000, counts: { sent: 1000 }, custom_data: { wave: 1 } });
      // Nothing is left to post for it, so no second launch.done can follow.
      assert.deepEqual(ok(await s.call('webhooks/deliveries', { id: hook.id, status: 'queued' })).data, []);
      assert.equal(r.at('/big').length, 1001);
    });

    it('disables an endpoint that fails every attempt for SALVO_WEBHOOK_DISABLE_AFTER_HOURS, in the campaign log; redeliver re-drives it', async () => {
      const campaign = await shopCampaign(s, shop, 'Dead hooks');
      down.add('/dead');
      const hook = await addHook('/dead', ['message.sent'], [campaign]);
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'ann@example.com', content: { email_title: 'Dead' } }));
      // Straight to each retry's time: the schedule reaches the hour after six attempts (5 s ... 30 min, then 1 h).
      const disabled = await eventually(async () => {
        const w = ok(await s.call('webhooks/get', { id: hook.id })).data;
        if (!w.enabled) return w;
        const [d] = await deliveries(hook.id);
        if (d?.status === 'queued') ahead = Math.max(ahead, Date.parse(d.next_attempt) - Date.now() + 10);
        return false;
      }, 20_000, 'the endpoint disabled');
      // Seven attempts: the sixth comes 34 to 51 minutes in, the seventh an hour (±20 %) later.
      assert.match(disabled.disabled_reason, new RegExp(`^every attempt to post to ${r.url}/dead failed for [12](\\.\\d)? h \\(SALVO_WEBHOOK_DISABLE_AFTER_HOURS\\)$`));
      const [d] = await deliveries(hook.id);
      assert.equal(d.status, 'failed');
      assert.equal(d.attempts.length, 7);
      assert.ok(d.attempts.every((a: { status_code: number }) => a.status_code === 503));
      const log = ok(await s.call('campaigns/log_v2', { id: campaign })).data;
      assert.ok(log.some((e: { level: string; message: string }) => e.level === 'warning' && e.message.startsWith(`webhook ${hook.id} disabled: every attempt to post`)), JSON.stringify(log));
      // Disabled: a new event is not written for it.
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'bob@example.com', content: { email_title: 'Dead 2' } }));
      await eventually(async () => ok(await s.call('messages/list', { campaign_id: campaign, status: 'sent' })).data.length === 2, 10_000, 'both sent');
      assert.equal((await deliveries(hook.id)).length, 1);
      down.delete('/dead');
      ok(await s.call('webhooks/update', { id: hook.id, enabled: true }));
      assert.deepEqual(ok(await s.call('webhooks/redeliver', { id: hook.id, status: 'failed' })).data, { queued: 1 });
      await eventually(async () => (await deliveries(hook.id))[0].status === 'delivered', 10_000, 'delivered after redeliver');
      assert.equal(new Set(r.at('/dead').map((x) => x.headers['webhook-id'])).size, 1);
      assert.equal(ok(await s.call('webhooks/get', { id: hook.id })).data.failing_since, null);
    });

    it('keeps the secret out of list and get, and rotates it on request', async () => {
      const hook = await addHook('/secret', ['task.done']);
      const listed = ok(await s.call('webhooks/list')).data.find((w: { id: number }) => w.id === hook.id);
      const got = ok(await s.call('webhooks/get', { id: hook.id })).data;
      for (const view of [listed, got]) {
        assert.equal(view.secret, undefined);
        assert.ok(!JSON.stringify(view).includes(hook.secret.slice(6)));
      }
      assert.deepEqual([got.url, got.events, got.campaign_ids, got.enabled], [`${r.url}/secret`, ['task.done'], null, true]);
      const rotated = ok(await s.call('webhooks/update', { id: hook.id, rotate_secret: true })).data;
      assert.match(rotated.secret, /^whsec_/);
      assert.notEqual(rotated.secret, hook.secret);
      const given = `whsec_${Buffer.alloc(32, 7).toString('base64')}`;
      assert.equal(ok(await s.call('webhooks/update', { id: hook.id, secret: given, enabled: false })).data.enabled, false);
      ok(await s.call('webhooks/delete', { id: hook.id }));
      assert.equal((await s.call('webhooks/get', { id: hook.id })).status, 404);
    });
  });
}

describe('webhooks: bad input and private addresses', () => {
  let s: TestServer;
  before(async () => {
    s = await startServer({ env: { SALVO_WEBHOOK_DENY_PRIVATE: 'true' } });
  });
  after(() => s.close());

  it('answers 400 naming the problem', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ events: ['*'] }, /url/],
      [{ url: 'https://hooks.example.com/x' }, /events/],
      [{ url: 'ftp://hooks.example.com/x', events: ['*'] }, /field 'url' must be an http:\/\/ or https:\/\/ URL/],
      [{ url: 'not a url', events: ['*'] }, /field 'url' must be an absolute/],
      [{ url: 'https://hooks.example.com/x', events: ['message.forwarded'] }, /events/],
      [{ url: 'https://hooks.example.com/x', events: [] }, /events/],
      [{ url: 'https://hooks.example.com/x', events: ['*'], secret: 'whsec_short' }, /field 'secret' must be 'whsec_'/],
      [{ url: 'https://hooks.example.com/x', events: ['*'], secret: 'plain-secret-without-prefix-1234567890' }, /field 'secret'/],
      [{ url: 'https://hooks.example.com/x', events: ['*'], campaign_ids: [999] }, /campaign 999 in 'campaign_ids' not found/],
      [{ url: 'http://127.0.0.1:8080/x', events: ['*'] }, /127\.0\.0\.1 is a private address/],
      [{ url: 'http://[::1]:8080/x', events: ['*'] }, /::1 is a private address/],
      [{ url: 'http://10.20.30.40/x', events: ['*'] }, /private address/],
      [{ url: 'http://169.254.169.254/latest/meta-data', events: ['*'] }, /private address/],
      [{ url: 'http://localhost:8080/x', events: ['*'] }, /localhost resolves to (127\.0\.0\.1|::1), a private address/],
    ];
    for (const [body, text] of cases) {
      const res = await s.call('webhooks/add', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.body.error_text, text, JSON.stringify(body));
      assert.equal(res.body.data, null);
    }
    assert.equal((await s.call('webhooks/get', { id: 42 })).status, 404);
    assert.equal((await s.call('webhooks/deliveries', { id: 42 })).status, 404);
    assert.equal((await s.call('webhooks/redeliver', { id: 42, status: 'failed' })).status, 404);
    assert.equal((await s.call('webhooks/add', { token: 'wrong-token-123456', url: 'https://h.example/x', events: ['*'] })).status, 403);
  });
});
