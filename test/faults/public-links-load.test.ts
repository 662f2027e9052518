/**
 * Issue 20's fault: email's public links under load while a launch is being sent. 200 connections fetch
 * open pixels, follow click redirects, replay one-click unsubscribes and try tampered tokens for five
 * seconds, while 300 messages go to a real SMTP server. The API's /health, polled throughout, stays fast
 * (the target is 200 ms; the bound below leaves a loaded CI a margin, and the measured figure is printed),
 * no answer is a 5xx, every open and click answered is counted exactly once, and every message arrives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { addProfile, type Shop, startShop, stopShop } from '../fixture.ts';
import { eventually, ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';
import { assertTiming } from '../timing.ts';
import { watchHealth } from './store-helpers.ts';

const PUBLIC = 'http://links.example';
const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';
const CONNECTIONS = 200;
const LOAD_MS = 5_000;
const AUDIENCE = 300;
/**
 * The target is 200 ms (measured 160-170 ms with the machine's load at 9); a CI machine running several
 * test files at once gets this margin. A stalled event loop (the fault) takes seconds.
 */
const HEALTH_BOUND_MS = 1000;

/**
 * The 200 connections' loop, in a thread of its own so that the clients' work does not run on the
 * server's event loop (the test server runs in this process): /health then measures the server alone.
 * Each connection cycles through the messages; of every four requests, one fetches the pixel, one follows
 * the click redirect, one replays the one-click unsubscribe POST and one tries a tampered click token.
 */
const LOAD = `
const { parentPort, workerData: { links, agent, connections, ms } } = require('node:worker_threads');
const answers = { opens: 0, clicks: 0, unsubscribes: 0, notFound: 0, other: [] };
const deadline = Date.now() + ms;
const one = async (i) => {
  const l = links[Math.floor(i / 4) % links.length];
  switch (i % 4) {
    case 0: { const r = await fetch(l.pixel, { headers: { 'user-agent': agent } }); await r.arrayBuffer(); return r.status === 200 ? 'opens' : r.status; }
    case 1: { const r = await fetch(l.click, { headers: { 'user-agent': agent }, redirect: 'manual' }); await r.arrayBuffer(); return r.status === 302 ? 'clicks' : r.status; }
    case 2: {
      const r = await fetch(l.unsubscribe, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'List-Unsubscribe=One-Click' });
      await r.arrayBuffer();
      return r.status === 200 ? 'unsubscribes' : r.status;
    }
    default: { const r = await fetch(l.click.replace('sale', 'evil'), { redirect: 'manual' }); await r.arrayBuffer(); return r.status === 404 ? 'notFound' : r.status; }
  }
};
Promise.all(Array.from({ length: connections }, async (_, c) => {
  for (let i = c; Date.now() < deadline; i += connections) {
    const got = await one(i).catch((e) => String(e));
    if (typeof got === 'string' && got in answers) answers[got]++;
    else answers.other.push(got);
  }
})).then(() => parentPort.postMessage(answers));
`;

interface Links {
  pixel: string;
  click: string;
  unsubscribe: string;
  message: number;
}

function fetchLinks(links: Links[], agent: string): Promise<{ opens: number; clicks: number; unsubscribes: number; notFound: number; other: unknown[] }> {
  const worker = new Worker(LOAD, { eval: true, workerData: { links, agent, connections: CONNECTIONS, ms: LOAD_MS } });
  return new Promise((resolve, reject) => {
    worker.once('message', (answers) => {
      resolve(answers);
      void worker.terminate();
    });
    worker.once('error', reject);
  });
}

for (const kind of STORE_KINDS) {
  describe(`public links under load while sending (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;
    let campaign: number;
    let ahead = 0;

    before(async () => {
      ({ s, smtp, shop } = await startShop({
        kind,
        clock: () => Date.now() + ahead,
        env: { SALVO_PUBLIC_URL: PUBLIC, SALVO_PUBLIC_RATE_LIMIT: '1000000', SALVO_LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent' },
      }));
      const tracked = ok(
        await s.call('resources/add', { name: 'Tracked', channels: ['email'], email: { from_email: 'news@shop.example', track_opens: true, track_clicks: true } }),
      ).data.id;
      const template = ok(
        await s.call('templates/add', {
          name: 'tracked',
          channels: [{ sid: 'email', fields: { subject: '{apicontent.title} {lead.email}', html: '<html><body><a href="https://shop.example/sale">Sale</a></body></html>' } }],
        }),
      ).data.id;
      campaign = ok(
        await s.call('campaigns/triggers/add', { name: 'tracked', trigger_type: 'api_call', send_channel: 'email', resource_id: tracked, db_id: shop.db, content: [{ message_id: template }], is_active: true }),
      ).data.id;
      const data = Array.from({ length: AUDIENCE }, (_, i) => ({ email: `load${i}@example.com`, Segment: 'load', subscriptions: [{ resource_id: tracked, channel: 'email', email: `load${i}@example.com` }] }));
      ok(await s.call('profiles/import_batch', { db_id: shop.db, data }));
      await addProfile(s, shop.db, { email: 'first@example.com', subscriptions: [{ resource_id: tracked, channel: 'email', email: 'first@example.com' }] });
    });
    after(() => stopShop(s, smtp));

    const local = (url: string) => url.replace(PUBLIC, s.url);

    it('keeps /health fast, answers no 5xx, counts every open and click once, and delivers every message', async () => {
      // The links of 20 messages already sent: what the 200 connections fetch.
      const links: Links[] = [];
      for (let i = 0; i < 20; i++) {
        const r = await s.call('campaigns/triggers/start', { id: campaign, email: 'first@example.com', content: { title: `seed ${i}` } });
        assert.equal(r.status, 200);
        const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
        const mail = await eventually(async () => smtp.received.find((x) => x.mail.subject === `seed ${i} first@example.com`), 10_000, `seed mail ${i}`);
        const html = String(mail.mail.html);
        links.push({
          pixel: local(/<img src="([^"]+)"/.exec(html)![1]),
          click: local(/<a href="([^"]+)">Sale<\/a>/.exec(html)![1].replace(/&amp;/g, '&')),
          unsubscribe: local(/^List-Unsubscribe: <([^>]+)>/im.exec(mail.raw)![1]),
          message: m.id,
        });
      }

      // A minute on: the fetches are not "at once after the send", so a browser's count as a person's.
      ahead = 60_000;
      const health = watchHealth(s.url);
      // The launch being sent while the links are fetched.
      const launch = await s.call('campaigns/triggers/start', { id: campaign, custom_request: { Segment: 'load' }, content: { title: 'sale' } });
      assert.equal(launch.status, 200, JSON.stringify(launch.body));

      const answers = await fetchLinks(links, BROWSER);
      const watched = await health.stop();
      console.log(`# ${kind}: /health slowest ${watched.slowest.toFixed(1)} ms over ${watched.samples.length} polls; answered ${answers.opens} opens, ${answers.clicks} clicks, ${answers.unsubscribes} unsubscribes, ${answers.notFound} tampered (404)`);

      assert.deepEqual(answers.other, [], 'every answer is the expected 200, 302 or 404, and no fetch failed');
      assert.ok(answers.opens > 0 && answers.clicks > 0 && answers.notFound > 0);
      assert.equal(watched.failed, 0, '/health answered 200 every time');
      assertTiming(`${kind}: /health's slowest answer under the links' load`, watched.slowest, { targetMs: 200, boundMs: HEALTH_BOUND_MS });

      // Exact: the opens and clicks answered are the ones recorded, a person's, once each.
      const recorded = { opens: 0, clicks: 0, machine: 0, unsubscribed: 0 };
      for (const l of links) {
        const m = ok(await s.call('messages/get', { id: l.message })).data;
        recorded.opens += m.opens;
        recorded.clicks += m.clicks;
        recorded.machine += m.machine_opens + m.machine_clicks;
        if (m.unsubscribed) recorded.unsubscribed++;
      }
      assert.deepEqual(recorded, { opens: answers.opens, clicks: answers.clicks, machine: 0, unsubscribed: links.length });
      const stats = ok(await s.call('campaigns/stats', { id: campaign })).data.engagement;
      assert.deepEqual([stats.opens, stats.clicks, stats.unsubscribed], [answers.opens, answers.clicks, links.length]);

      // Every message of the launch arrives, once.
      await eventually(async () => smtp.received.filter((m) => m.mail.subject?.startsWith('sale ')).length >= AUDIENCE, 60_000, `${AUDIENCE} sale mails`);
      const sale = smtp.received.filter((m) => m.mail.subject?.startsWith('sale '));
      assert.equal(new Set(sale.map((m) => m.mail.subject)).size, AUDIENCE);
      assert.equal(sale.length, AUDIENCE);
    });
  });
}
