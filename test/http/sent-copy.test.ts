/**
 * messages/get's sent_copy (issue 22: a sent email shows From, To, the text part, headers and
 * attachments): an email sent through a real SMTP server is compared with what that server received;
 * an SMS and a push show what they have; SALVO_KEEP_BODY=0 keeps no copy, and a long text part is cut
 * where the body is.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Shop, startShop, stopShop } from '../fixture.ts';
import { eventually, ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import type { TestSmtp } from '../smtp.ts';

const INVOICE = { name: 'invoice.pdf', data: `data:application/pdf;base64,${Buffer.from('%PDF-1.4 seventeen').toString('base64')}` };

for (const kind of STORE_KINDS) {
  describe(`messages/get sent_copy (${kind})`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;

    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind, env: { SALVO_KEEP_BODY: '200' } }));
      ok(await s.call('resources/update', { id: shop.resource, email: { from_email: 'news@shop.example', from_name: 'Shop News', replyto_email: 'help@shop.example', replyto_name: 'Help' } }));
    });
    after(() => stopShop(s, smtp));

    const finished = (launch: number) =>
      eventually(async () => {
        const [m] = ok(await s.call('messages/list', { launch_id: launch })).data;
        return m && ['sent', 'captured', 'failed'].includes(m.status) && ok(await s.call('messages/get', { id: m.id })).data;
      }, 15_000, `the message of launch ${launch} sent`);
    const start = async (body: Record<string, unknown>) => Number((await s.call('campaigns/triggers/start', body)).headers.get('launch-id'));

    it('an email: From, To, Reply-To, Message-ID, List-Unsubscribe, the text part and the attachment, as the SMTP server received them', async () => {
      const lines = Array.from({ length: 40 }, (_, i) => `line ${i}`);
      const launch = await start({ id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'Your videos', data_lines: lines }, attach: [INVOICE] });
      const m = await finished(launch);
      assert.equal(m.status, 'sent');
      const [got] = await smtp.waitFor(1);
      const copy = m.sent_copy;
      assert.equal(copy.channel, 'email');
      assert.equal(copy.from, 'Shop News <news@shop.example>');
      assert.equal(got.mail.from?.text, '"Shop News" <news@shop.example>');
      assert.equal(copy.to, 'john@example.com');
      assert.deepEqual(got.to, ['john@example.com']);
      assert.equal(copy.reply_to, 'Help <help@shop.example>');
      assert.equal(got.mail.replyTo?.value[0].address, 'help@shop.example');
      assert.equal(copy.headers['Message-ID'], got.mail.messageId);
      assert.equal(copy.headers['List-Unsubscribe'], /^List-Unsubscribe: (.+)$/im.exec(got.raw.replace(/\r?\n[ \t]+/g, ' '))![1]);
      assert.match(copy.headers['List-Unsubscribe'], /^<http:\/\/[^>]+\/u\/[^>]+>$/);
      assert.equal(copy.headers['List-Unsubscribe-Post'], 'List-Unsubscribe=One-Click');
      assert.equal(copy.headers['X-Salvo-Message-Id'], String(m.id));
      // The text part as received, cut where the body is (SALVO_KEEP_BODY=200).
      assert.equal(copy.text.length, 200);
      assert.ok(got.mail.text!.startsWith(copy.text), `${copy.text} is the start of ${got.mail.text}`);
      assert.equal(m.body.length, 200);
      assert.deepEqual(copy.attachments, [{ name: 'invoice.pdf', mime: 'application/pdf', size: 18 }]);
      assert.deepEqual(got.mail.attachments.map((a) => [a.filename, a.size]), [['invoice.pdf', 18]]);
      assert.equal(copy.dkim, null);
      assert.equal(m.subject, 'Your videos');
    });

    it('an SMS and a push (captured: no provider) show their sender, recipient, provider and link', async () => {
      const sms = await finished(await start({ id: shop.campaigns.sms, matching: 'phone', phone: '+79000000001', content: { code: '77' } }));
      assert.equal(sms.status, 'captured');
      assert.deepEqual(sms.sent_copy, { channel: 'sms', from: 'SHOP', to: '+79000000001', parts: 0 });
      assert.equal(sms.body, 'Code 77 for +79000000001');
      const push = await finished(await start({ id: shop.campaigns.push, email: 'john@example.com', content: { body: 'New!', path: 'v/1' } }));
      assert.equal(push.status, 'captured');
      assert.deepEqual(push.sent_copy, { channel: 'push', to: 'CAREFULWITHTHATAXE', provider: 'Chrome', url: 'https://shop.example/v/1', icon: null });
    });

    it('a message the server refused has none', async () => {
      smtp.rcptVerdict = (address) => (address === 'bob@example.com' ? { code: 550, message: 'no such mailbox' } : null);
      const m = await finished(await start({ id: shop.campaigns.email, email: 'bob@example.com', content: { email_title: 'x', data_lines: [] } }));
      smtp.rcptVerdict = () => null;
      assert.equal(m.status, 'failed');
      assert.equal(m.sent_copy, null);
    });
  });
}

describe('SALVO_KEEP_BODY=0 keeps no copy either', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  before(async () => {
    ({ s, smtp, shop } = await startShop({ env: { SALVO_KEEP_BODY: '0' } }));
  });
  after(() => stopShop(s, smtp));

  it('sends, and keeps neither body nor copy', async () => {
    ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'x', data_lines: [] } }));
    await smtp.waitFor(1);
    const m = await eventually(async () => {
      const [row] = ok(await s.call('messages/list', { email: 'ann@example.com' })).data;
      return row?.status === 'sent' && ok(await s.call('messages/get', { id: row.id })).data;
    }, 15_000, 'sent');
    assert.equal(m.body, null);
    assert.equal(m.sent_copy, null);
  });
});
