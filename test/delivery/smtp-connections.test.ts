/**
 * How long Salvo keeps an SMTP connection: until the server or the idle timeout closes it, not for a
 * fixed number of messages. nodemailer's default closed each connection after 100 messages, and the
 * send after it waited for a new connection (connect, greeting, EHLO, STARTTLS, AUTH): at one trigger
 * at a time, the p99 of request-to-inbox (docs/performance-log.md, issue 11). A relay that caps messages
 * per connection is still served by `?maxMessages=N` in SALVO_SMTP_URL.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import { addProfile, setupShop } from '../fixture.ts';
import { ok, startServer, type TestServer } from '../helpers.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const COUNT = 150;

describe('SMTP connections', () => {
  let s: TestServer | undefined;
  let smtp: TestSmtp | undefined;
  afterEach(async () => {
    await s?.close();
    await smtp?.close();
  });

  /** COUNT triggers, one at a time, each waited for at the SMTP server; one pooled connection, so every send can use it. */
  async function sendOneByOne(query: string): Promise<TestSmtp> {
    smtp = await startSmtp();
    s = await startServer({ workers: true, env: { SALVO_SMTP_URL: smtp.url + query, SALVO_SMTP_POOL: '1' } });
    const shop = await setupShop(s);
    await addProfile(s, shop.db, { email: 'many@example.com', subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'many@example.com' }] });
    for (let i = 0; i < COUNT; i++) {
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'many@example.com', content: { email_title: `mail ${i}` } }));
      await smtp.waitFor(i + 1);
    }
    assert.deepEqual(
      smtp.received.map((m) => m.mail.subject),
      Array.from({ length: COUNT }, (_, i) => `mail ${i}`),
    );
    return smtp;
  }

  it(`sends ${COUNT} messages over the one connection it opened`, async () => {
    const server = await sendOneByOne('');
    assert.equal(server.connections, 1, 'a connection was closed after some messages and a new one opened');
  });

  it('replaces a connection after maxMessages when SALVO_SMTP_URL asks for it', async () => {
    const server = await sendOneByOne('?maxMessages=50');
    assert.equal(server.connections, COUNT / 50);
  });
});
