/**
 * Issue 21, item 1: bounces and complaints after the SMTP 250, with real parts. Each campaign email goes
 * out with its own signed Return-Path (VERP) on SALVO_BOUNCE_DOMAIN; reports as Postfix and a mailbox
 * provider write them are sent over SMTP (nodemailer) to Salvo's bounce listener, and what they change is
 * read through the API: the message, its subscription, the next launch, the webhook events. And the
 * faults: forged bounces, a bounce for a message that is gone, a giant report, the listener's port taken.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { bounceAddress } from '../../src/core/public-links.ts';
import { addProfile, type Shop, startShop, stopShop } from '../fixture.ts';
import { complaint, hardBounce, plainBounce, softBounce } from '../feedback-reports.ts';
import { eventually, ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';
import { type Receiver, startReceiver } from '../webhook-receiver.ts';

const DOMAIN = 'bounces.shop.example';
const VERP = new RegExp(`^b-[0-9a-z]+-[0-9a-f]{32}@${DOMAIN.replace(/\./g, '\\.')}$`);

for (const kind of STORE_KINDS) {
  describe(`bounces and complaints (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;
    let hooks: Receiver;
    let port: number;
    let n = 0;

    before(async () => {
      hooks = await startReceiver();
      hooks.answer = () => 204;
      ({ s, smtp, shop } = await startShop({
        kind,
        env: {
          SALVO_BOUNCE_DOMAIN: DOMAIN,
          SALVO_BOUNCE_SMTP_HOST: '127.0.0.1',
          SALVO_BOUNCE_SMTP_PORT: '0',
          SALVO_BOUNCE_MAX_BYTES: '256kb',
          SALVO_SOFT_BOUNCE_LIMIT: '2',
          SALVO_LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent',
        },
      }));
      port = (await s.app.startBounceListener())!;
      ok(await s.call('webhooks/add', { url: `${hooks.url}/events`, events: ['message.bounced', 'message.soft_bounced', 'message.complained'] }));
    });
    after(async () => {
      await stopShop(s, smtp);
      await hooks.close();
    });

    /** A report sent to the listener as an MTA sends it: from the null sender, to `to`. */
    const report = (to: string, raw: string) =>
      nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true }).sendMail({ envelope: { from: '', to: [to] }, raw });
    const person = async () => {
      const email = `b${++n}@example.com`;
      await addProfile(s, shop.db, { email, subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });
      return email;
    };
    const send = async (email: string) => {
      const title = `bounce test ${++n}`;
      const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: title, data_lines: ['a'] } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const mail = await eventually(async () => smtp.received.find((m) => m.mail.subject === title), 10_000, `the mail '${title}'`);
      const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
      return { verp: mail.from, message: m.id as number, launchId: Number(r.headers.get('launch-id')) };
    };
    const subscription = async (email: string) => ok(await s.call('profiles/get', { db_id: shop.db, email })).data.subscriptions[0].status;
    const message = async (id: number) => ok(await s.call('messages/get', { id })).data;

    it('a Postfix DSN to the Return-Path marks the message undelivered and the subscription hardbounced within a second; the next launch skips', async () => {
      const email = await person();
      const { verp, message: id } = await send(email);
      assert.match(verp, VERP, 'the envelope sender is the message’s own signed bounce address');
      const sent = Date.now();
      await report(verp, hardBounce(verp, email));
      const m = await eventually(async () => {
        const got = await message(id);
        return got.status === 'undelivered' ? got : null;
      }, 5000, 'the message undelivered');
      console.log(`# ${kind}: DSN recorded ${Date.now() - sent} ms after it was sent to the listener`);
      assert.ok(Date.now() - sent < 3000);
      assert.match(m.last_error, /^bounced \(dsn\) 5\.1\.1: smtp; 550 5\.1\.1 <b\d+@example\.com>: Recipient address rejected: User unknown in virtual mailbox table$/);
      assert.equal(m.history.at(-1).status, 'undelivered');
      assert.equal(await subscription(email), 'hardbounced');
      const event = await eventually(async () => hooks.at('/events').find((e) => e.json.type === 'message.bounced' && e.json.data.message_id === id), 10_000, 'message.bounced');
      assert.equal(event.json.data.status, 'undelivered');
      assert.equal(event.json.data.bounce.status, '5.1.1');
      const log = ok(await s.call('campaigns/log_v2', { id: shop.campaigns.email, limit: 5 })).data;
      assert.ok(log.some((l: { message: string }) => l.message.includes(`message ${id}: bounced (dsn) 5.1.1`)));

      // The same DSN again (an MTA retrying) changes nothing more.
      await report(verp, hardBounce(verp, email));
      assert.equal((await message(id)).history.filter((h: { status: string }) => h.status === 'undelivered').length, 1);

      const next = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: 'after the bounce' } });
      const [skipped] = ok(await s.call('messages/list', { launch_id: Number(next.headers.get('launch-id')) })).data;
      assert.deepEqual([skipped.status, skipped.skip_reason], ['skipped', 'hardbounced']);
    });

    it('a delayed DSN is a soft bounce in the history; the second within the window suspends the subscription', async () => {
      const email = await person();
      const first = await send(email);
      await report(first.verp, softBounce(first.verp, email));
      const m = await eventually(async () => {
        const got = await message(first.message);
        return got.history.some((h: { status: string }) => h.status === 'soft_bounce') ? got : null;
      }, 5000, 'the soft bounce in the history');
      assert.equal(m.status, 'sent', 'a soft bounce does not end the message');
      assert.match(m.history.at(-1).detail, /^soft bounce \(dsn\) 4\.2\.2: smtp; 452 4\.2\.2 <b\d+@example\.com>: Mailbox full$/);
      assert.equal(await subscription(email), 'subscribed');
      const second = await send(email);
      await report(second.verp, softBounce(second.verp, email));
      await eventually(async () => (await subscription(email)) === 'suspended', 5000, 'the subscription suspended');
      const events = hooks.at('/events').filter((e) => e.json.type === 'message.soft_bounced' && [first.message, second.message].includes(e.json.data.message_id));
      await eventually(async () => hooks.at('/events').filter((e) => e.json.type === 'message.soft_bounced' && e.json.data.message_id === second.message).length === 1, 10_000, 'the events');
      assert.ok(events.length >= 1);
    });

    it('an ARF complaint to fbl@ (the reported mail naming its signed Return-Path) makes the subscription complainer', async () => {
      const email = await person();
      const { verp, message: id } = await send(email);
      await report(`fbl@${DOMAIN}`, complaint(verp, email, `fbl@${DOMAIN}`));
      await eventually(async () => (await subscription(email)) === 'complainer', 5000, 'the subscription complainer');
      assert.equal((await message(id)).history.at(-1).detail, 'complaint (arf): abuse');
      await eventually(async () => hooks.at('/events').find((e) => e.json.type === 'message.complained' && e.json.data.message_id === id), 10_000, 'message.complained');
      // A complaint naming no signed address changes nothing.
      const other = await person();
      await send(other);
      await report(`fbl@${DOMAIN}`, complaint(`b-1-${'0'.repeat(32)}@${DOMAIN}`, other, `fbl@${DOMAIN}`));
      assert.equal(await subscription(other), 'subscribed');
    });

    it('reads a plain-text bounce (qmail) by its status code', async () => {
      const email = await person();
      const { verp, message: id } = await send(email);
      await report(verp, plainBounce(verp, email));
      await eventually(async () => (await message(id)).status === 'undelivered', 5000, 'the message undelivered');
      assert.equal(await subscription(email), 'hardbounced');
    });

    it('refuses forged bounce addresses at RCPT, and none changes a status; a bounce for a deleted message changes nothing', async () => {
      const email = await person();
      const { verp, message: id } = await send(email);
      const forged = [
        verp.replace(/-([0-9a-f])([0-9a-f]{31})@/, (_, c: string, rest: string) => `-${c === '0' ? '1' : '0'}${rest}@`),
        verp.replace(/^b-([0-9a-z]+)-/, (_, i: string) => `b-${(Number.parseInt(i, 36) + 1).toString(36)}-`),
        verp.replace(DOMAIN, 'other.example'),
        `postmaster@${DOMAIN}`,
        'b-1-zz@bounces.shop.example',
      ];
      // 200 forged reports, 50 connections at a time (the listener takes at most 100 at once).
      const results: unknown[] = [];
      for (let round = 0; round < 4; round++) {
        const attempt = (i: number) => report(forged[i % forged.length], hardBounce(forged[i % forged.length], email)).then(() => 'accepted', (e: { responseCode?: number }) => e.responseCode);
        results.push(...(await Promise.all(Array.from({ length: 50 }, (_, i) => attempt(round * 50 + i)))));
      }
      assert.deepEqual([...new Set(results)], [550]);
      assert.equal((await message(id)).status, 'sent');
      assert.equal(await subscription(email), 'subscribed');

      // A signed address whose message is gone (the retention purge removed it): taken (250) and dropped.
      const gone = bounceAddress(await s.app.store.linkKey(), id + 1_000_000, DOMAIN);
      await report(gone, hardBounce(gone, email));
      assert.equal((await message(id)).status, 'sent');
    });

    it('refuses a giant report (552) without keeping it, and goes on taking reports', async () => {
      const email = await person();
      const { verp, message: id } = await send(email);
      const giant = hardBounce(verp, email).replace('This is a MIME-encapsulated message.', `This is a MIME-encapsulated message.\r\n${'x'.repeat(76).concat('\r\n').repeat(8000)}`);
      const refused = await report(verp, giant).then(() => null, (e: { responseCode?: number }) => e.responseCode);
      assert.equal(refused, 552);
      assert.equal((await message(id)).status, 'sent');
      await report(verp, hardBounce(verp, email));
      await eventually(async () => (await message(id)).status === 'undelivered', 5000, 'the next report taken');
    });
  });
}

describe('bounce listener start-up', () => {
  it('a taken port is a clear start-up error', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const busy = (taken.address() as net.AddressInfo).port;
    const s = await startServer({ env: { SALVO_BOUNCE_DOMAIN: DOMAIN, SALVO_BOUNCE_SMTP_HOST: '127.0.0.1', SALVO_BOUNCE_SMTP_PORT: String(busy) } });
    try {
      await assert.rejects(s.app.startBounceListener(), new RegExp(`the bounce listener cannot listen on 127\\.0\\.0\\.1:${busy} \\(SALVO_BOUNCE_SMTP_PORT\\): the port is in use`));
      assert.equal((await fetch(`${s.url}/health`)).status, 200, 'the API goes on');
    } finally {
      await s.close();
      taken.close();
    }
  });

  it('a mail without a bounce domain has no VERP Return-Path and no listener runs', async () => {
    const s = await startServer();
    try {
      assert.equal(await s.app.startBounceListener(), null);
    } finally {
      await s.close();
    }
  });
});
