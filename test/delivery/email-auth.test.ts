/**
 * Mail that inboxes accept (issue 20): a resource with `email.dkim` signs every mail, checked by
 * mailauth (a real DKIM verifier) against a stub DNS that serves the public key; a resource without
 * it sends unsigned mail. An HTML template without text gets a text/plain part made from the HTML,
 * the same in the mail sent, the outbox and the dry-run preview; a template's own text is kept.
 */
import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { dkimVerify } from 'mailauth';
import { addCampaign, addProfile, setupShop, startShop, stopShop, type Shop } from '../fixture.ts';
import { eventually, ok, startServer, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';

const DOMAIN = 'shop.example';
const SELECTOR = 's2026';
const keys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const privateKey = keys.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
const publicKey = createPublicKey(keys.privateKey).export({ type: 'spki', format: 'der' }).toString('base64');

/** The DNS a receiving server would ask: the DKIM key record, and nothing else. */
const resolver = async (name: string, rrtype: string) => {
  if (rrtype === 'TXT' && name === `${SELECTOR}._domainkey.${DOMAIN}`) return [[`v=DKIM1; k=rsa; p=${publicKey}`]];
  throw Object.assign(new Error(`no ${rrtype} record for ${name}`), { code: 'ENOTFOUND' });
};

const dkimResults = async (raw: string) => (await dkimVerify(Buffer.from(raw), { resolver })).results;

describe('email authentication and the text part, over a real SMTP server', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  let signed: number;
  before(async () => {
    ({ s, smtp, shop } = await startShop());
    const resource = ok(
      await s.call('resources/add', { name: 'Signed', channels: ['email'], email: { from_email: `news@${DOMAIN}`, dkim: { domain: DOMAIN, selector: SELECTOR, private_key: privateKey } } }),
    ).data.id;
    await addProfile(s, shop.db, { email: 'dora@example.com', _fname: 'Dora', subscriptions: [{ resource_id: resource, channel: 'email', email: 'dora@example.com' }] });
    signed = await addCampaign(s, { name: 'Signed', db: shop.db, resource, email: { subject: 'Hi {lead._fname}', html: '<p>Hi <b>{lead._fname}</b>, see <a href="https://shop.example/offer">the offer</a>.</p><img src="https://shop.example/logo.png" alt="Logo">' } });
  });
  after(() => stopShop(s, smtp));

  let sends = 0;
  const deliver = async (campaign: number, email: string) => {
    const before = smtp.received.length;
    // `n` makes each request new: a repeated request is answered from the deduplication store, not sent.
    ok(await s.call('campaigns/triggers/start', { id: campaign, email, content: { email_title: 'News', data_lines: ['A'], n: ++sends } }));
    return (await smtp.waitFor(before + 1)).at(-1)!;
  };

  test('a resource with dkim signs its mail: mailauth verifies it pass; a tampered body fails', async () => {
    const mail = await deliver(signed, 'dora@example.com');
    assert.match(mail.raw, /^DKIM-Signature: /m);
    const [result] = await dkimResults(mail.raw);
    assert.equal(result.status.result, 'pass', JSON.stringify(result.status));
    assert.equal(result.signingDomain, DOMAIN);
    assert.equal(result.selector, SELECTOR);
    // The same mail with one word of its body changed: the verifier must catch it, or the pass above proves nothing.
    const bodyAt = mail.raw.indexOf('\r\n\r\n');
    const tampered = mail.raw.slice(0, bodyAt) + mail.raw.slice(bodyAt).replace('Dora', 'Mallory');
    assert.notEqual(tampered, mail.raw);
    const [bad] = await dkimResults(tampered);
    assert.notEqual(bad.status.result, 'pass');
    assert.match(String(bad.status.comment), /body hash/);
  });

  test('a resource without dkim sends unsigned mail', async () => {
    const mail = await deliver(shop.campaigns.email, 'john@example.com');
    assert.doesNotMatch(mail.raw, /^DKIM-Signature:/im);
    const [result] = await dkimResults(mail.raw);
    assert.equal(result.status.result, 'none');
  });

  test('HTML without text: the mail has a text/plain part made from it (links as URLs, images dropped), as the dry run shows', async () => {
    const mail = await deliver(signed, 'dora@example.com');
    // mailparser makes mail.text from HTML by itself: the raw MIME must carry the part.
    assert.match(mail.raw, /^Content-Type: multipart\/alternative/m);
    assert.match(mail.raw, /^Content-Type: text\/plain/m);
    assert.match(mail.raw, /^Content-Type: text\/html/m);
    const text = 'Hi Dora, see the offer [https://shop.example/offer].';
    assert.equal(mail.mail.text?.trim(), text);
    assert.doesNotMatch(mail.mail.text!, /logo/i);
    const dry = ok(await s.call('campaigns/triggers/start', { id: signed, email: 'dora@example.com', dry_run: true })).data;
    assert.equal(dry.preview[0].text, text);
  });

  test("a template's own text wins over the one made from its HTML", async () => {
    const mail = await deliver(shop.campaigns.email, 'john@example.com');
    assert.match(mail.raw, /^Content-Type: text\/plain/m);
    assert.equal(mail.mail.text?.trim(), 'Hi John! [A]');
  });
});

describe('without SMTP, the outbox', () => {
  let s: TestServer;
  before(async () => (s = await startServer({ workers: true })));
  after(() => s.close());

  test('captures the text part made from the HTML, signed as SMTP would carry it', async () => {
    const shop = await setupShop(s);
    ok(await s.call('resources/update', { id: shop.other, email: { from_email: `other@${DOMAIN}`, dkim: { domain: DOMAIN, selector: SELECTOR, private_key: privateKey } } }));
    await addProfile(s, shop.db, { email: 'eve@example.com', subscriptions: [{ resource_id: shop.other, channel: 'email', email: 'eve@example.com' }] });
    const campaign = await addCampaign(s, { name: 'Outboxed', db: shop.db, resource: shop.other, email: { subject: 'Hi', html: '<p>Read <a href="https://shop.example/a">this</a></p>' } });
    ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'eve@example.com' }));
    const entry = await eventually(async () => ok(await s.call('outbox/list', { channel: 'email', recipient: 'eve@example.com' })).data[0]);
    assert.equal(entry.body, 'Read this [https://shop.example/a]');
    const full = ok(await s.call('outbox/get', { id: entry.id })).data;
    const [result] = await dkimResults(full.raw);
    assert.equal(result.status.result, 'pass');
  });
});
