/**
 * Issue 21, item 2: email services' event webhooks. Amazon SES notifications (the examples of AWS's
 * "Amazon SNS notification examples for Amazon SES", naming a message Salvo sent) are posted in SNS
 * envelopes signed as SNS signs them, with a certificate made here by openssl and pinned through
 * SALVO_SES_SIGNING_CERT; SendGrid's events (its Event Webhook reference's examples) are signed with an
 * ECDSA P-256 key made here, as SendGrid signs them. SendGrid's own published test vector is checked too.
 * Unsigned and wrongly signed posts are 401 and change nothing.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { isSnsCertUrl, verifySendgrid } from '../../src/core/email-services.ts';
import { addProfile, type Shop, startShop, stopShop } from '../fixture.ts';
import { postSendgrid as postSendgridTo, postSes as postSesTo, SENDGRID_KEY, ses, sendgridEvent, snsCert, snsEnvelope, TOPIC } from '../email-services.ts';
import { eventually, ok, STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';

for (const kind of STORE_KINDS) {
  describe(`email services' event webhooks (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;
    let n = 0;

    before(async () => {
      ({ s, smtp, shop } = await startShop({
        kind,
        env: { SALVO_SES_TOPIC_ARNS: TOPIC, SALVO_SES_SIGNING_CERT: snsCert, SALVO_SENDGRID_WEBHOOK_KEY: SENDGRID_KEY, SALVO_LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent' },
      }));
    });
    after(() => stopShop(s, smtp));

    const send = async () => {
      const email = `e${++n}@example.com`;
      await addProfile(s, shop.db, { email, subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });
      const title = `esp ${n}`;
      const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: title, data_lines: ['a'] } });
      const mail = await eventually(async () => smtp.received.find((m) => m.mail.subject === title), 10_000, `the mail '${title}'`);
      const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
      return { email, id: m.id as number, messageId: String(mail.mail.messageId) };
    };
    const postSes = (body: unknown) => postSesTo(s.url, body);
    const postSendgrid = (events: unknown[], o: Parameters<typeof postSendgridTo>[2] = {}) => postSendgridTo(s.url, events, o);
    const subscription = async (email: string) => ok(await s.call('profiles/get', { db_id: shop.db, email })).data.subscriptions[0].status;
    const message = async (id: number) => ok(await s.call('messages/get', { id })).data;

    it('SES: a signed bounce marks the message undelivered and the subscription hardbounced; the next launch skips', async () => {
      const { email, id, messageId } = await send();
      assert.match(messageId, /^<salvo\.\d+\.\d+@shop\.example>$/);
      const r = await postSes(snsEnvelope(ses.bounce(messageId, email)));
      assert.equal(r.status, 200, await r.clone().text());
      assert.deepEqual((await r.json()).data, { recorded: 1, repeated: 0, no_message: 0, not_email: 0, ignored: 0 });
      const m = await message(id);
      assert.equal(m.status, 'undelivered');
      assert.equal(m.last_error, `bounced (ses) 5.1.1: smtp; 550 5.1.1 <${email}>... User`);
      assert.equal(await subscription(email), 'hardbounced');
      // SNS delivers at least once: the same notification again changes nothing.
      assert.equal((await (await postSes(snsEnvelope(ses.bounce(messageId, email), { version: '1' }))).json()).data.repeated, 1);
      const next = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: 'after' } });
      const [skipped] = ok(await s.call('messages/list', { launch_id: Number(next.headers.get('launch-id')) })).data;
      assert.equal(skipped.skip_reason, 'hardbounced');
    });

    it('SES: a complaint makes the subscription complainer; a delivery makes the message delivered', async () => {
      const a = await send();
      assert.equal((await postSes(snsEnvelope(ses.complaint(a.messageId, a.email)))).status, 200);
      assert.equal(await subscription(a.email), 'complainer');
      assert.equal((await message(a.id)).history.at(-1).detail, 'complaint (ses): abuse');
      const b = await send();
      assert.equal((await postSes(snsEnvelope(ses.delivery(b.messageId, b.email)))).status, 200);
      const m = await message(b.id);
      assert.equal(m.status, 'delivered');
      assert.equal(m.history.at(-1).detail, 'delivered (ses): 250 ok: Message 64111812 accepted');
    });

    it('SES: unsigned, wrongly signed, altered or foreign-topic posts are refused with 401 and change nothing', async () => {
      const { email, id, messageId } = await send();
      const good = snsEnvelope(ses.bounce(messageId, email));
      const altered = { ...good, Message: JSON.stringify(ses.bounce(messageId, 'other@example.com')) };
      const unsigned = { ...good, Signature: '' };
      const foreign = snsEnvelope(ses.bounce(messageId, email), { topic: 'arn:aws:sns:us-east-1:999999999999:theirs' });
      for (const bad of [altered, unsigned, foreign]) {
        const r = await postSes(bad);
        assert.equal(r.status, 401);
        assert.equal((await r.json()).error, 401);
      }
      assert.equal((await postSes({ hello: 'world' })).status, 400);
      assert.equal((await message(id)).status, 'sent');
      assert.equal(await subscription(email), 'subscribed');
    });

    it('SendGrid: signed bounce, spamreport and delivered events map onto the same statuses; a bad signature is 401', async () => {
      const a = await send();
      const b = await send();
      const c = await send();
      const forged = await postSendgrid([sendgridEvent('bounce', a.messageId, a.email, { reason: '500 unknown recipient', status: '5.0.0', type: 'bounce' })], {
        key: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
      });
      assert.equal(forged.status, 401);
      assert.equal((await postSendgrid([], { signature: '' })).status, 401);
      assert.equal(await subscription(a.email), 'subscribed');

      const r = await postSendgrid([
        sendgridEvent('processed', a.messageId, a.email),
        sendgridEvent('bounce', a.messageId, a.email, { reason: '500 unknown recipient', status: '5.0.0', type: 'bounce' }),
        sendgridEvent('spamreport', b.messageId, b.email),
        sendgridEvent('delivered', c.messageId, c.email, { response: '250 OK' }),
      ]);
      assert.equal(r.status, 200);
      assert.deepEqual((await r.json()).data, { recorded: 3, repeated: 0, no_message: 0, not_email: 0, ignored: 1 });
      assert.equal((await message(a.id)).status, 'undelivered');
      assert.equal(await subscription(a.email), 'hardbounced');
      assert.equal(await subscription(b.email), 'complainer');
      assert.equal((await message(c.id)).status, 'delivered');
    });
  });
}

describe('email services: the signature schemes', () => {
  it("verifies SendGrid's own published test vector, and refuses it altered", () => {
    // From SendGrid's eventwebhook package tests (sendgrid-nodejs, packages/eventwebhook).
    const key = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==';
    const signature = 'MEUCIQCtIHJeH93Y+qpYeWrySphQgpNGNr/U+UyUlBkU6n7RAwIgJTz2C+8a8xonZGi6BpSzoQsbVRamr2nlxFDWYNH2j/0=';
    const payload = JSON.stringify({ category: 'example_payload', event: 'test_event', message_id: 'message_id' });
    assert.equal(verifySendgrid(key, payload, signature, '1588788367'), true);
    assert.equal(verifySendgrid(key, payload, signature, '1588788368'), false);
    assert.equal(verifySendgrid(key, payload.replace('test_event', 'bounce'), signature, '1588788367'), false);
  });

  it('takes SNS certificates only from https://sns.<region>.amazonaws.com', () => {
    assert.equal(isSnsCertUrl('https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem'), true);
    for (const url of ['http://sns.us-east-1.amazonaws.com/x.pem', 'https://sns.us-east-1.amazonaws.com.evil.example/x.pem', 'https://evil.example/sns.us-east-1.amazonaws.com/x.pem', 'https://127.0.0.1/x.pem']) {
      assert.equal(isSnsCertUrl(url), false, url);
    }
  });

  it('answers 404 where no email service is set up', async () => {
    const s = await startServer();
    try {
      assert.equal((await fetch(`${s.url}/feedback/ses`, { method: 'POST', body: '{}' })).status, 404);
      assert.equal((await fetch(`${s.url}/feedback/sendgrid`, { method: 'POST', body: '[]' })).status, 404);
    } finally {
      await s.close();
    }
  });
});
