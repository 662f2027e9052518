/**
 * SMTP relays with a private or self-signed certificate: a real smtp-server offering STARTTLS with a
 * certificate made here by openssl. Trusted through SALVO_SMTP_TLS_CA (or with verification turned off)
 * the mail arrives over TLS; otherwise the send fails on the certificate and is retried, never sent in clear.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import { eventually, ok, startServer, tempDir, type TestServer } from '../helpers.ts';
import { addProfile, setupShop } from '../fixture.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const tmp = tempDir();
const key = path.join(tmp.dir, 'key.pem');
const cert = path.join(tmp.dir, 'cert.pem');

/** A self-signed certificate for 127.0.0.1 and localhost, valid for a day. */
function selfSigned(): void {
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert,
    '-days', '1', '-subj', '/CN=smtp.test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { stdio: 'ignore' });
}

type Msg = { status: string; last_error: string | null; history: { status: string; detail?: string }[] };

/** A Salvo server delivering to `smtp` with these settings, a campaign, and one trigger; answers the message id. */
async function sendOne(smtp: TestSmtp, env: Record<string, string>): Promise<{ s: TestServer; id: number }> {
  const s = await startServer({ workers: true, env: { SALVO_SMTP_URL: smtp.url, SALVO_MAX_ATTEMPTS: '2', ...env } });
  const shop = await setupShop(s);
  await addProfile(s, shop.db, { email: 'tls@example.com', subscriptions: [{ resource_id: shop.resource, channel: 'email', email: 'tls@example.com' }] });
  const r = ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'tls@example.com', content: { email_title: 'over TLS' } }));
  assert.equal(r.error, 0);
  const [m] = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email })).data;
  return { s, id: m.id };
}

const message = (s: TestServer, id: number) => s.call('messages/get', { id }).then((r) => ok(r).data as Msg);

describe('SMTP over STARTTLS with a self-signed certificate', () => {
  let smtp: TestSmtp;
  before(async () => {
    selfSigned();
    smtp = await startSmtp({ tls: { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') } });
  });
  after(async () => {
    await smtp.close();
    tmp.remove();
  });

  it('delivers over TLS when SALVO_SMTP_TLS_CA names the certificate that signed it', async () => {
    const { s, id } = await sendOne(smtp, { SALVO_SMTP_TLS_CA: cert });
    try {
      const m = await eventually(async () => {
        const msg = await message(s, id);
        return msg.status === 'sent' && msg;
      }, 15_000, 'the message to be sent');
      assert.match(m.history.at(-1)!.detail!, /^accepted by SMTP: 250/);
      const mail = smtp.received.find((r) => r.to.includes('tls@example.com'));
      assert.ok(mail, 'the SMTP server got the mail');
      assert.equal(mail.secure, true, 'over STARTTLS');
      assert.equal(mail.mail.subject, 'over TLS');
    } finally {
      await s.close();
    }
  });

  it('refuses the unverified certificate without the CA: the send fails with the TLS error and is retried, nothing sent', async () => {
    const before = smtp.received.length;
    const { s, id } = await sendOne(smtp, {});
    try {
      const m = await eventually(async () => {
        const msg = await message(s, id);
        return msg.history.some((h) => h.status === 'waiting' || h.status === 'failed') && msg;
      }, 15_000, 'the first attempt to fail');
      assert.ok(['waiting', 'sending', 'failed'].includes(m.status), m.status);
      const failure = m.history.find((h) => h.status === 'waiting' || h.status === 'failed')!;
      assert.match(failure.detail!, /self[- ]signed certificate/i);
      assert.match(m.last_error!, /self[- ]signed certificate/i);
      assert.equal(smtp.received.length, before, 'no mail went through');
    } finally {
      await s.close();
    }
  });

  it('delivers with SALVO_SMTP_TLS_REJECT_UNAUTHORIZED=false (encrypted, not verified)', async () => {
    const { s, id } = await sendOne(smtp, { SALVO_SMTP_TLS_REJECT_UNAUTHORIZED: 'false' });
    try {
      await eventually(async () => (await message(s, id)).status === 'sent', 15_000, 'the message to be sent');
      assert.equal(smtp.received.at(-1)!.secure, true);
    } finally {
      await s.close();
    }
  });

  it('stops start-up on a CA file that is missing or not PEM, and on pool options in the URL', () => {
    assert.throws(() => loadConfig({ SALVO_SMTP_TLS_CA: path.join(tmp.dir, 'missing.pem') }), /^ConfigError: SALVO_SMTP_TLS_CA cannot be read: ENOENT/);
    assert.throws(() => loadConfig({ SALVO_SMTP_TLS_CA: key }), /SALVO_SMTP_TLS_CA must be a file of PEM certificates/);
    assert.throws(() => loadConfig({ SALVO_SMTP_TLS_REJECT_UNAUTHORIZED: 'maybe' }), /SALVO_SMTP_TLS_REJECT_UNAUTHORIZED must be on or off/);
    assert.throws(() => loadConfig({ SALVO_SMTP_URL: 'smtp://relay:587?pool=false' }), /SALVO_SMTP_URL must not set pool: Salvo always pools/);
  });
});
