/**
 * SMS over SMPP, through the HTTP API, against a real SMPP server (the `smpp` package's): the bind,
 * GSM 03.38 and UCS-2, a long Cyrillic text in concatenated parts, delivery receipts, throttling and a
 * permanent refusal.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { STORE_KINDS, startServer, type TestServer } from '../helpers.ts';
import { startSmsc, type TestSmsc } from '../smsc.ts';
import { setupSmsShop, type SmsShop } from './sms.ts';

const PHONES = ['+79000000001', '+79000000002', '+79000000003', '+79000000004', '+79000000005', '+79000000006'];

for (const kind of STORE_KINDS) {
  describe(`SMS over SMPP (${kind})`, () => {
    let smsc: TestSmsc;
    let s: TestServer;
    let shop: SmsShop;
    before(async () => {
      smsc = await startSmsc();
      s = await startServer({ kind, workers: true });
      shop = await setupSmsShop(s, { sender: 'SHOP', smpp: { url: smsc.url, window: 4 } }, PHONES);
    });
    after(async () => {
      await s.close();
      await smsc.close();
    });

    test('a GSM text goes out as data_coding 0 from an alphanumeric sender, and its receipt makes it delivered', async () => {
      const id = await shop.start(PHONES[0], { text: 'Your code is 1234 {ok} €5' });
      const m = await shop.message(id, (m) => m.status === 'delivered');
      const got = smsc.messages().find((x) => x.to === '79000000001')!;
      assert.equal(got.text, 'Your code is 1234 {ok} €5');
      assert.equal(got.dataCoding, 0);
      const submit = smsc.submits.find((x) => x.to === '79000000001')!;
      assert.deepEqual([submit.sourceTon, submit.sourceNpi, submit.from, submit.destTon, submit.destNpi], [5, 0, 'SHOP', 1, 1]);
      assert.equal(submit.registeredDelivery & 1, 1, 'a final receipt is requested');
      assert.equal(m.provider_message_id, submit.messageId);
      const statuses = m.history.map((h: { status: string }) => h.status);
      assert.deepEqual(statuses.slice(-3), ['sending', 'sent', 'delivered']);
      assert.match(m.history.at(-2).detail, new RegExp(`ESME_ROK, message_id ${submit.messageId}; 1 part, GSM 03.38`));
      assert.match(m.history.at(-1).detail, /stat DELIVRD/);
      const listed = (await s.call('messages/list', { campaign_id: shop.campaign, status: 'delivered' })).body.data;
      assert.ok(listed.some((x: { id: number }) => x.id === id), 'messages/list filters by delivered');
    });

    test('a long Cyrillic text goes as UCS-2 in concatenated parts, reassembled whole; delivered when every part is', async () => {
      const text = 'Здравствуйте! Ваш заказ №42 собран и передан в доставку. '.repeat(4).trim();
      smsc.receiptTlvs = true;
      const id = await shop.start(PHONES[1], { text });
      const m = await shop.message(id, (m) => m.status === 'delivered');
      smsc.receiptTlvs = false;
      const got = smsc.messages().find((x) => x.to === '79000000002')!;
      assert.equal(got.text, text);
      assert.equal(got.dataCoding, 8);
      const parts = Math.ceil(text.length / 67);
      assert.equal(got.parts, parts);
      const submits = smsc.submits.filter((x) => x.to === '79000000002');
      assert.ok(submits.every((x) => (x.esmClass & 0x40) === 0x40), 'every part says it has a UDH');
      assert.match(m.history.find((h: { status: string }) => h.status === 'sent').detail, new RegExp(`${parts} parts, UCS-2 \\(data_coding 8\\)`));
      assert.equal(m.history.filter((h: { detail?: string }) => h.detail?.startsWith('delivery receipt')).length, parts, 'one history entry per part receipt');
    });

    test('an undelivered receipt makes the message undelivered', async () => {
      smsc.receiptStat = (x) => (x.to === '79000000003' ? 'UNDELIV' : 'DELIVRD');
      const id = await shop.start(PHONES[2], { text: 'lost' });
      const m = await shop.message(id, (m) => m.status === 'undelivered');
      assert.match(m.history.at(-1).detail, /stat UNDELIV/);
      smsc.receiptStat = () => 'DELIVRD';
    });

    test('ESME_RTHROTTLED is retried after a wait, then accepted', async () => {
      let throttled = 0;
      smsc.verdict = (x) => (x.to === '79000000004' && throttled++ < 2 ? 0x58 : 0);
      const id = await shop.start(PHONES[3], { text: 'after a pause' });
      const m = await shop.message(id, (m) => m.status === 'delivered');
      smsc.verdict = () => 0;
      assert.equal(throttled, 3);
      assert.equal(m.attempts, 3);
      const waits = m.history.filter((h: { status: string }) => h.status === 'waiting');
      assert.equal(waits.length, 2);
      assert.match(waits[0].detail, /^ESME_RTHROTTLED: the SMSC is throttling/);
      assert.equal(smsc.messages().filter((x) => x.to === '79000000004').length, 1, 'arrived once');
    });

    test('a permanent refusal fails the message at once', async () => {
      smsc.verdict = (x) => (x.to === '79000000005' ? 0x0b : 0); // ESME_RINVDSTADR
      const id = await shop.start(PHONES[4], { text: 'nowhere' });
      const m = await shop.message(id);
      smsc.verdict = () => 0;
      assert.equal(m.status, 'failed');
      assert.equal(m.attempts, 1);
      assert.match(m.last_error, /^ESME_RINVDSTADR: the SMSC refused the message/);
    });

    test('one bound session serves the resource', () => {
      assert.equal(smsc.binds, 1);
    });
  });
}
