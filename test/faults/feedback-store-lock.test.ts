/**
 * Bounces and email services' events while another process holds the store's write lock: the listener
 * answers 451 and a webhook 503, so the sending MTA or the service posts again; the process goes on
 * answering; once the lock is let go the same report is recorded, once.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import nodemailer from 'nodemailer';
import { addProfile, type Shop, startShop, stopShop } from '../fixture.ts';
import { hardBounce } from '../feedback-reports.ts';
import { postSendgrid as postSendgridTo, postSes as postSesTo, SENDGRID_KEY, ses, sendgridEvent, snsCert, snsEnvelope, TOPIC } from '../email-services.ts';
import { eventually, ok, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';
import { holdWriteLock } from './store-helpers.ts';

const DOMAIN = 'bounces.shop.example';
describe('bounces and email service events while the store is locked (sqlite)', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  let port: number;
  let n = 0;

  before(async () => {
    ({ s, smtp, shop } = await startShop({
      env: {
        SALVO_BOUNCE_DOMAIN: DOMAIN,
        SALVO_BOUNCE_SMTP_HOST: '127.0.0.1',
        SALVO_BOUNCE_SMTP_PORT: '0',
        SALVO_SES_TOPIC_ARNS: TOPIC,
        SALVO_SES_SIGNING_CERT: snsCert,
        SALVO_SENDGRID_WEBHOOK_KEY: SENDGRID_KEY,
        SALVO_STORE_RETRY_MS: '300',
        SALVO_LOG_LEVEL: process.env.DEBUG_LOG ?? 'silent',
      },
    }));
    port = (await s.app.startBounceListener())!;
  });
  after(() => stopShop(s, smtp));

  const send = async () => {
    const email = `locked${++n}@example.com`;
    await addProfile(s, shop.db, { email, subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });
    const title = `locked ${n}`;
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: title, data_lines: ['a'] } });
    const mail = await eventually(async () => smtp.received.find((m) => m.mail.subject === title), 10_000, `the mail '${title}'`);
    const [m] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
    return { email, id: m.id as number, verp: mail.from, messageId: String(mail.mail.messageId) };
  };
  const status = async (id: number) => ok(await s.call('messages/get', { id })).data.status;
  const report = (to: string, raw: string) =>
    nodemailer.createTransport({ host: '127.0.0.1', port, secure: false, ignoreTLS: true }).sendMail({ envelope: { from: '', to: [to] }, raw });
  const postSes = (body: unknown) => postSesTo(s.url, body);
  const gridBounce = (m: { messageId: string; email: string }) => [sendgridEvent('bounce', m.messageId, m.email, { reason: '550 unknown', status: '5.0.0', type: 'bounce' })];

  it('answers 451 (listener) and 503 (SES, SendGrid) under the lock, keeps /health up, and records each report once after it', async () => {
    const dsn = await send();
    const sesMsg = await send();
    const grid = await send();
    const lock = holdWriteLock(path.join(s.config.dataDir, 'salvo.db'));
    try {
      await eventually(async () => lock.said.includes('locked'), 10_000, 'the lock holder to take the lock');
      const refused = await report(dsn.verp, hardBounce(dsn.verp, dsn.email)).then(() => null, (e: { responseCode?: number }) => e.responseCode);
      assert.equal(refused, 451, 'the MTA is told to try again later');
      assert.equal((await postSes(snsEnvelope(ses.bounce(sesMsg.messageId, sesMsg.email)))).status, 503);
      const g = await postSendgridTo(s.url, gridBounce(grid));
      assert.equal(g.status, 503);
      assert.equal((await g.json()).error, 503);
      assert.equal((await fetch(`${s.url}/health`)).status, 200, 'the process goes on answering');
    } finally {
      lock.release();
      await eventually(async () => lock.child.exitCode !== null, 10_000, 'the lock holder to exit');
    }
    // The MTA and the services post again: each report is recorded now, once.
    await report(dsn.verp, hardBounce(dsn.verp, dsn.email));
    assert.equal((await postSes(snsEnvelope(ses.bounce(sesMsg.messageId, sesMsg.email)))).status, 200);
    assert.equal((await postSendgridTo(s.url, gridBounce(grid))).status, 200);
    await eventually(async () => (await status(dsn.id)) === 'undelivered', 5000, 'the DSN recorded');
    assert.deepEqual([await status(sesMsg.id), await status(grid.id)], ['undelivered', 'undelivered']);
    for (const id of [dsn.id, sesMsg.id, grid.id]) {
      const history = ok(await s.call('messages/get', { id })).data.history as { status: string }[];
      assert.equal(history.filter((h) => h.status === 'undelivered').length, 1, `message ${id} recorded once`);
    }
  });
});
