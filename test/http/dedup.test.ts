/** Request deduplication: a repeat gets the first answer, with headers, and sends nothing again. */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createToken } from '../../src/engine/tokens.ts';
import { eventually, ok, STORE_KINDS, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { type Shop, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

for (const kind of STORE_KINDS) {
  describe(`deduplication on ${kind}`, () => {
    let s: TestServer;
    let smtp: TestSmtp;
    let shop: Shop;

    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind }));
    });
    after(() => stopShop(s, smtp));

    const post = (body: Record<string, unknown>, headers: Record<string, string> = {}, token = TEST_TOKEN) =>
      fetch(`${s.url}/api/v1.1/campaigns/triggers/start`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ token, ...body }) });
    const mails = (subject: string) => smtp.received.filter((m) => m.mail.subject === subject);
    /**
     * Waits until no message of the campaign is still to be sent, so that a mail sent twice would
     * have arrived before the test counts the mails.
     */
    const settle = () =>
      eventually(async () => {
        const messages = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email, limit: 1000 })).data as { status: string }[];
        return messages.every((m) => ['sent', 'captured', 'failed', 'skipped'].includes(m.status));
      }, 10_000, 'every message of the campaign sent');

    it('answers a repeated Request-ID from the first answer, without sending again', async () => {
      const body = { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'rid' } };
      const first = await post(body, { 'Request-ID': 'order-1001' });
      const firstText = await first.text();
      assert.equal(first.status, 200);
      assert.equal(first.headers.get('duplicate-request'), null);
      await eventually(async () => mails('rid').length === 1);
      const again = await post({ ...body, content: { email_title: 'rid, changed' } }, { 'Request-ID': 'order-1001' });
      assert.equal(again.status, 200);
      assert.equal(await again.text(), firstText);
      assert.equal(again.headers.get('duplicate-request'), 'true');
      assert.equal(again.headers.get('duplicate-key'), 'order-1001');
      assert.equal(again.headers.get('launch-id'), first.headers.get('launch-id'));
      const viaX = await post(body, { 'X-Request-ID': 'order-1001' });
      assert.equal(viaX.headers.get('duplicate-request'), 'true');
      await settle();
      assert.equal(mails('rid').length, 1);
      assert.equal(mails('rid, changed').length, 0);
    });

    it('keys requests without an id by a checksum of the body', async () => {
      const body = { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'sum' } };
      const first = await post(body);
      const again = await post(body);
      assert.equal(again.headers.get('duplicate-request'), 'true');
      assert.match(again.headers.get('duplicate-key')!, /^[0-9a-f]{64}$/);
      assert.equal(again.headers.get('launch-id'), first.headers.get('launch-id'));
      const other = await post({ ...body, content: { email_title: 'sum', n: 2 } });
      assert.equal(other.headers.get('duplicate-request'), null);
      await eventually(async () => mails('sum').length === 2);
      await settle();
      assert.equal(mails('sum').length, 2);
    });

    it('repeats the first answer when it was an error too', async () => {
      const body = { id: shop.campaigns.email, email: 'nobody@example.com' };
      const first = await post(body);
      assert.equal(first.status, 404);
      const again = await post(body);
      assert.equal(again.status, 404);
      assert.equal(again.headers.get('duplicate-request'), 'true');
      assert.deepEqual(await again.json(), await first.json());
    });

    it('executes two identical requests sent at the same instant once', async () => {
      const body = { id: shop.campaigns.email, email: 'bob@example.com', content: { email_title: 'race' } };
      const answers = await Promise.all(Array.from({ length: 4 }, () => post(body, { 'Request-ID': 'race-1' })));
      assert.ok(answers.every((a) => a.status === 200));
      assert.equal(new Set(answers.map((a) => a.headers.get('launch-id'))).size, 1, 'one launch');
      assert.equal(answers.filter((a) => a.headers.get('duplicate-request') === 'true').length, 3);
      await eventually(async () => mails('race').length === 1);
      await settle();
      assert.equal(mails('race').length, 1);
    });

    it('claims the key before a custom_request launch, and answers racers and repeats from it', async () => {
      const body = { id: shop.campaigns.email, custom_request: { email: 'ann@example.com' }, content: { email_title: 'cr dup' } };
      const answers = await Promise.all(Array.from({ length: 3 }, () => post(body, { 'Request-ID': 'cr-1' })));
      assert.ok(answers.every((a) => a.status === 200));
      assert.equal(new Set(answers.map((a) => a.headers.get('launch-id'))).size, 1, 'one launch');
      assert.equal(answers.filter((a) => a.headers.get('duplicate-request') === 'true').length, 2);
      assert.equal((await post(body, { 'Request-ID': 'cr-1' })).headers.get('duplicate-request'), 'true');
      await eventually(async () => mails('cr dup').length === 1);
      await settle();
      assert.equal(mails('cr dup').length, 1);
    });

    it('keeps the answer of a launch with attachments, written in its transaction', async () => {
      const attach = [{ name: 'note.txt', data: `data:text/plain;base64,${Buffer.from('hello').toString('base64')}` }];
      const body = { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'attach dup' }, attach };
      const answers = await Promise.all(Array.from({ length: 3 }, () => post(body, { 'Request-ID': 'attach-1' })));
      assert.ok(answers.every((a) => a.status === 200));
      assert.equal(new Set(answers.map((a) => a.headers.get('launch-id'))).size, 1, 'one launch');
      await eventually(async () => mails('attach dup').length === 1);
      await settle();
      assert.equal(mails('attach dup').length, 1);
      assert.equal(mails('attach dup')[0].mail.attachments[0].filename, 'note.txt');
    });

    it('keeps callers apart: the same Request-ID from another token is not a repeat', async () => {
      const other = (await createToken(s.app.store, 'other-client')).token;
      const body = { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'scoped' } };
      const a = await post(body, { 'Request-ID': 'shared-id' });
      const b = await post(body, { 'Request-ID': 'shared-id' }, other);
      assert.equal(b.headers.get('duplicate-request'), null);
      assert.notEqual(a.headers.get('launch-id'), b.headers.get('launch-id'));
    });

    it('deduplicates batch and v1.0 calls too', async () => {
      const batch = { trigger_id: shop.campaigns.email, data: [{ email: 'john@example.com' }], content: { email_title: 'dup batch' } };
      const first = ok(await s.call('campaigns/triggers/start_batch', batch));
      const again = await s.call('campaigns/triggers/start_batch', batch);
      assert.equal(again.headers.get('duplicate-request'), 'true');
      assert.deepEqual(again.body, first);
      const url = ok(await s.call('campaigns/triggers/get', { id: shop.campaigns.email })).data.call_url.replace(/^http:\/\/localhost:\d+/, s.url);
      const v1 = () => fetch(`${url}john@example.com`, { method: 'POST', body: JSON.stringify({ content: { email_title: 'dup v1' } }) });
      assert.equal((await v1()).headers.get('duplicate-request'), null);
      assert.equal((await v1()).headers.get('duplicate-request'), 'true');
      await eventually(async () => mails('dup v1').length === 1 && mails('dup batch').length === 1);
    });
  });
}
