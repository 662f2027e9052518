/**
 * Email's public links, with real parts: mail received by a real SMTP server and parsed by mailparser, the
 * one-click POST made as a mailbox provider makes it (RFC 8058), the pixel and the redirect fetched over HTTP.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { addProfile, type Shop, shopCampaign, startShop, stopShop } from '../fixture.ts';
import { eventually, ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';
import { type Receiver, startReceiver } from '../webhook-receiver.ts';

const PUBLIC = 'http://links.example';
const BROWSER = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

for (const kind of STORE_KINDS) {
  describe(`email's public links (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;
    let hooks: Receiver;
    let ahead = 0;
    let n = 0;

    before(async () => {
      hooks = await startReceiver();
      hooks.answer = () => 204;
      // A public SALVO_PUBLIC_URL turns the egress policy on; the webhook receiver here is on 127.0.0.1.
      const env = { SALVO_PUBLIC_URL: PUBLIC, SALVO_EGRESS_DENY_PRIVATE: 'off', SALVO_LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent' };
      ({ s, smtp, shop } = await startShop({ kind, clock: () => Date.now() + ahead, env }));
      ok(await s.call('webhooks/add', { url: `${hooks.url}/events`, events: ['message.unsubscribed', 'message.opened', 'message.clicked'] }));
    });
    after(async () => {
      await stopShop(s, smtp);
      await hooks.close();
    });

    /** A link of the mail, fetched on the test server (the mail names SALVO_PUBLIC_URL). */
    const local = (url: string) => url.replace(PUBLIC, s.url);
    const send = async (campaign: number, email: string, title: string) => {
      const r = await s.call('campaigns/triggers/start', { id: campaign, email, content: { email_title: title, data_lines: ['a'] } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const mail = await eventually(async () => smtp.received.find((m) => m.mail.subject === title), 10_000, `the mail '${title}'`);
      const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
      return { mail, message: m.id as number };
    };
    const person = async () => {
      const email = `u${++n}@example.com`;
      await addProfile(s, shop.db, { email, _fname: 'Una', subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });
      return email;
    };
    const subscriptionStatus = async (email: string) => ok(await s.call('profiles/get', { db_id: shop.db, email })).data.subscriptions[0].status;
    const oneClick = (url: string) =>
      fetch(local(url), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click', redirect: 'manual' });

    it('carries List-Unsubscribe and List-Unsubscribe-Post; one POST unsubscribes, is recorded, raises an event, and the next trigger skips', async () => {
      const email = await person();
      const { mail, message } = await send(shop.campaigns.email, email, `unsub ${n}`);
      const header = /^List-Unsubscribe: <([^>]+)>/im.exec(mail.raw)?.[1];
      assert.ok(header, 'the mail has a List-Unsubscribe URL');
      assert.match(header, new RegExp(`^${PUBLIC}/u/[0-9a-z]+\\.[A-Za-z0-9_-]{22}$`));
      assert.match(mail.raw, /^List-Unsubscribe-Post: List-Unsubscribe=One-Click\r?$/im);

      // A GET (a link scanner, or the person's browser) shows a confirmation page and changes nothing.
      const page = await fetch(local(header));
      assert.equal(page.status, 200);
      assert.match(await page.text(), /<form method="post">/);
      assert.equal(await subscriptionStatus(email), 'subscribed');

      const post = await oneClick(header);
      assert.equal(post.status, 200);
      assert.equal(await subscriptionStatus(email), 'unsubscribed');
      const got = ok(await s.call('messages/get', { id: message })).data;
      assert.ok(got.unsubscribed, 'messages/get says when');
      assert.ok(got.history.some((h: { status: string }) => h.status === 'unsubscribed'), JSON.stringify(got.history));
      const log = ok(await s.call('campaigns/log_v2', { id: shop.campaigns.email })).data;
      assert.ok(log.some((l: { message: string }) => l.message.startsWith(`message ${message}: its recipient unsubscribed (subscription `)), JSON.stringify(log.slice(0, 3)));
      const event = await eventually(async () => hooks.at('/events').find((e) => e.json.type === 'message.unsubscribed' && e.json.data.message_id === message), 10_000, 'the webhook event');
      assert.equal(event.json.data.address, email);

      // A replay changes nothing more and raises no second event.
      assert.equal((await oneClick(header)).status, 200);
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(hooks.at('/events').filter((e) => e.json.type === 'message.unsubscribed' && e.json.data.message_id === message).length, 1);

      const next = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: 'after' } });
      const [skipped] = ok(await s.call('messages/list', { launch_id: Number(next.headers.get('launch-id')) })).data;
      assert.deepEqual([skipped.status, skipped.skip_reason], ['skipped', 'unsubscribed']);
    });

    it('answers 404 to a tampered or unsigned token and changes nothing', async () => {
      const email = await person();
      const { mail } = await send(shop.campaigns.email, email, `tamper ${n}`);
      const url = /^List-Unsubscribe: <([^>]+)>/im.exec(mail.raw)![1];
      const [id, sig] = url.slice(url.lastIndexOf('/') + 1).split('.');
      const forged = [
        `${PUBLIC}/u/${(Number.parseInt(id, 36) + 1).toString(36)}.${sig}`,
        `${PUBLIC}/u/${id}.${sig.slice(0, -1)}${sig.endsWith('A') ? 'B' : 'A'}`,
        `${PUBLIC}/u/${id}`,
        `${PUBLIC}/u/preview`,
      ];
      for (const f of forged) {
        assert.equal((await oneClick(f)).status, 404, f);
        assert.equal((await fetch(local(f))).status, 404, f);
      }
      assert.equal(await subscriptionStatus(email), 'subscribed');
    });

    it('gives {unsubscribe} in the body, and a transactional campaign no headers', async () => {
      const body = await shopCampaign(s, shop, `footer ${++n}`, { email: { subject: '{apicontent.email_title}', html: '<p>Hi</p><a href="{unsubscribe}">Unsubscribe</a>' } });
      const email = await person();
      const { mail } = await send(body, email, `with footer ${n}`);
      const header = /^List-Unsubscribe: <([^>]+)>/im.exec(mail.raw)![1];
      assert.match(String(mail.mail.html), new RegExp(`<a href="${header.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">Unsubscribe</a>`));

      const receipts = await shopCampaign(s, shop, `receipts ${++n}`, { extra: { transactional: true } });
      const { mail: receipt } = await send(receipts, email, `receipt ${n}`);
      assert.doesNotMatch(receipt.raw, /^List-Unsubscribe/im);
    });

    it('tracks opens and clicks where the resource asks: the pixel and the redirect, machine fetches apart, stats and events', async () => {
      const tracked = ok(
        await s.call('resources/add', { name: `Tracked ${++n}`, channels: ['email'], email: { from_email: 'news@shop.example', track_opens: true, track_clicks: true } }),
      ).data.id;
      const template = ok(
        await s.call('templates/add', {
          name: `tracked ${n}`,
          channels: [{ sid: 'email', fields: { subject: '{apicontent.email_title}', html: '<html><body><a href="https://shop.example/item?id=1&amp;ref=mail">Item</a> <a href="mailto:help@shop.example">Help</a></body></html>' } }],
        }),
      ).data.id;
      const campaign = ok(await s.call('campaigns/triggers/add', { name: `tracked ${n}`, trigger_type: 'api_call', send_channel: 'email', resource_id: tracked, db_id: shop.db, content: [{ message_id: template }], is_active: true })).data.id;
      const email = `t${n}@example.com`;
      await addProfile(s, shop.db, { email, subscriptions: [{ resource_id: tracked, channel: 'email', email }] });
      // The dry run's preview shows what the mail will carry: the headers and the rewritten links (naming no message).
      const [preview] = ok(await s.call('campaigns/triggers/start', { id: campaign, email, dry_run: true, content: { email_title: 'preview' } })).data.preview;
      assert.equal(preview.from, 'news@shop.example');
      assert.deepEqual(preview.headers, { 'List-Unsubscribe': `<${PUBLIC}/u/preview>`, 'List-Unsubscribe-Post': 'List-Unsubscribe=One-Click' });
      assert.match(preview.html, new RegExp(`<a href="${PUBLIC}/c/preview\\?u=[^"]+">Item</a>`));
      assert.match(preview.html, new RegExp(`<img src="${PUBLIC}/o/preview\\.gif"`));
      assert.match(preview.text, /Item \[https:\/\/shop\.example\/item\?id=1&ref=mail\]/, 'the text part keeps the original URL');
      const { mail, message } = await send(campaign, email, `tracked ${n}`);
      const html = String(mail.mail.html);
      const pixel = /<img src="([^"]+\/o\/[^"]+\.gif)"/.exec(html)?.[1];
      const click = /<a href="([^"]+\/c\/[^"]+)">Item<\/a>/.exec(html)?.[1].replace(/&amp;/g, '&');
      assert.ok(pixel && click, html);
      assert.match(html, /<a href="mailto:help@shop.example">Help<\/a>/, 'mailto: links stay');

      // A scanner's fetch (by its user agent) is marked as a machine's; the rule for fetches at once after the
      // send is asserted in test/core/engagement.test.ts, free of this machine's timing.
      ahead = 60_000;
      assert.equal((await fetch(local(pixel), { headers: { 'user-agent': 'Barracuda Sentinel (EE)' } })).status, 200);
      const open = await fetch(local(pixel), { headers: { 'user-agent': BROWSER } });
      assert.equal(open.status, 200);
      assert.equal(open.headers.get('content-type'), 'image/gif');
      await fetch(local(pixel), { headers: { 'user-agent': 'curl/8.5.0' } });
      const go = await fetch(local(click), { headers: { 'user-agent': BROWSER }, redirect: 'manual' });
      assert.equal(go.status, 302);
      assert.equal(go.headers.get('location'), 'https://shop.example/item?id=1&ref=mail');
      const altered = click.replace(encodeURIComponent('https://shop.example/item'), encodeURIComponent('https://evil.example/item'));
      assert.equal((await fetch(local(altered), { redirect: 'manual' })).status, 404, 'never an open redirect');

      const m = ok(await s.call('messages/get', { id: message })).data;
      assert.deepEqual([m.opens, m.machine_opens, m.clicks, m.machine_clicks], [1, 2, 1, 0]);
      const clicked = m.history.find((h: { status: string }) => h.status === 'clicked');
      assert.match(clicked.detail, /^https:\/\/shop\.example\/item\?id=1&ref=mail from 127\.0\.0\.0\/24 Mozilla/);
      const stats = ok(await s.call('campaigns/stats', { id: campaign })).data.engagement;
      assert.deepEqual(stats, { opened: 1, opens: 1, machine_opens: 2, clicked: 1, clicks: 1, machine_clicks: 0, unsubscribed: 0 });
      assert.ok(ok(await s.call('messages/stats', {})).data.engagement.last_day.opens >= 1);
      const events = await eventually(async () => {
        const mine = hooks.at('/events').filter((e) => e.json.data.message_id === message);
        return mine.length >= 2 ? mine : null;
      }, 10_000, 'the open and click events');
      assert.deepEqual(events.map((e) => e.json.type).sort(), ['message.clicked', 'message.opened']);
      assert.equal(events.find((e) => e.json.type === 'message.clicked')!.json.data.url, 'https://shop.example/item?id=1&ref=mail');
      ahead = 0;
    });
  });
}
