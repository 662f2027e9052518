/**
 * Dead letters and re-drive: messages/retry queues failed messages again (by ids, launch or campaign),
 * with a full set of attempts and the re-drive in their history. Each arrives exactly once after the
 * SMTP server is fixed; sent messages are never touched.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ENV_TOKEN_NAME } from '../../src/engine/tokens.ts';
import { eventually, ok, STORE_KINDS, type TestServer } from '../helpers.ts';
import { startShop, stopShop, type Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

type Msg = { id: number; status: string; attempts: number; last_error: string | null; history: { status: string; detail?: string }[] };

const REDRIVEN = `re-driven by messages/retry (token ${ENV_TOKEN_NAME})`;

for (const kind of STORE_KINDS) {
  describe(`messages/retry (${kind})`, () => {
    let smtp: TestSmtp;
    let s: TestServer;
    let shop: Shop;
    /** Subjects the SMTP server refuses for now, with the reply it gives. */
    const refused = new Map<string, { code: number; message: string }>();

    before(async () => {
      ({ s, smtp, shop } = await startShop({ kind, env: { SALVO_MAX_ATTEMPTS: '2' } }));
      smtp.verdict = (_n, raw) => {
        const subject = /^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? '';
        return refused.get(subject) ?? null;
      };
    });
    after(() => stopShop(s, smtp));

    const start = async (email: string, subject: string) => {
      const r = ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: subject } }));
      assert.ok(r);
      return ok(await s.call('messages/list', { profile_id: shop.profiles[email.split('@')[0]], limit: 1 })).data[0] as Msg;
    };
    const message = async (id: number) => ok(await s.call('messages/get', { id })).data as Msg;
    const settled = (id: number, status: string) => eventually(async () => {
      const m = await message(id);
      return m.status === status && m;
    }, 15_000, `message ${id} ${status}`);
    const arrivals = (subject: string) => smtp.received.filter((r) => r.mail.subject === subject).flatMap((r) => r.to).sort();

    it('re-drives failed messages by id once the server is fixed; each arrives once; sent ones are untouched', async () => {
      refused.set('down', { code: 554, message: 'refused for the test' });
      const failed = await settled((await start('john@example.com', 'down')).id, 'failed');
      assert.match(failed.last_error!, /554/);
      const sent = await settled((await start('ann@example.com', 'up')).id, 'sent');

      refused.delete('down');
      // The re-driven send is slowed down, so that the state right after the re-drive can be seen.
      smtp.verdict = (_n, raw) => (/^Subject: down/m.test(raw) ? { delayMs: 1000 } : null);
      const r = ok(await s.call('messages/retry', { ids: [failed.id, sent.id] }));
      assert.deepEqual(r.data, { queued: 1, more: false });

      const now = await message(failed.id);
      assert.ok(['queued', 'sending'].includes(now.status), now.status);
      assert.match(now.last_error!, /554/, 'last_error is kept until the next outcome');
      assert.ok(now.attempts <= 1, `attempts start again (${now.attempts})`);
      const done = await settled(failed.id, 'sent');
      assert.equal(done.attempts, 1);
      const redrive = done.history.findIndex((h) => h.status === 'queued' && h.detail === REDRIVEN);
      assert.ok(redrive > 0, JSON.stringify(done.history));
      assert.equal(done.history[redrive - 1].status, 'failed', 'the failure stays in the history, before the re-drive');
      assert.equal(done.history.at(-1)!.status, 'sent');
      assert.deepEqual(arrivals('down'), ['john@example.com']);

      const untouched = await message(sent.id);
      assert.deepEqual(untouched, sent);
      assert.deepEqual(arrivals('up'), ['ann@example.com']);

      // Nothing left to re-drive.
      assert.deepEqual(ok(await s.call('messages/retry', { ids: [failed.id, sent.id] })).data, { queued: 0, more: false });
      smtp.verdict = (_n, raw) => refused.get(/^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? '') ?? null;
    });

    it('re-drives the failed messages of a launch, leaving its sent one alone', async () => {
      refused.set('launch', { code: 554, message: 'refused for the test' });
      smtp.verdict = (_n, raw) => (/^Subject: launch/m.test(raw) && !/^To: .*bob@/m.test(raw) ? refused.get('launch')! : null);
      const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, custom_request: { email: { $regex: '^(john|ann|bob)@' } }, content: { email_title: 'launch' } });
      ok(r);
      const launchId = Number(r.headers.get('launch-id'));
      const list = await eventually(async () => {
        const l = ok(await s.call('messages/list', { launch_id: launchId })).data as Msg[];
        return l.length === 3 && l.every((m) => m.status === 'failed' || m.status === 'sent') && l;
      }, 15_000, 'the launch settled');
      assert.equal(list.filter((m) => m.status === 'failed').length, 2);
      const bob = list.find((m) => m.status === 'sent')!;
      const bobBefore = await message(bob.id);

      smtp.verdict = () => null;
      assert.deepEqual(ok(await s.call('messages/retry', { launch_id: launchId, status: 'failed' })).data, { queued: 2, more: false });
      await eventually(async () => {
        const l = ok(await s.call('messages/list', { launch_id: launchId })).data as Msg[];
        return l.every((m) => m.status === 'sent') && l;
      }, 15_000, 'the launch re-driven');
      assert.deepEqual(arrivals('launch'), ['ann@example.com', 'bob@example.com', 'john@example.com']);
      assert.deepEqual(await message(bob.id), bobBefore);
      for (const m of list.filter((x) => x.status === 'failed')) assert.ok((await message(m.id)).history.some((h) => h.detail === REDRIVEN));
    });

    it('re-drives a campaign in bounded calls (more: true), with a full set of attempts', async () => {
      const campaign = shop.campaigns.override;
      refused.set('Override for John', { code: 451, message: 'try later' });
      refused.set('Override for Ann', { code: 451, message: 'try later' });
      smtp.verdict = (_n, raw) => refused.get(/^Subject: (.*)$/m.exec(raw)?.[1]?.trim() ?? '') ?? null;
      const ids: number[] = [];
      for (const email of ['john@example.com', 'ann@example.com']) {
        ok(await s.call('campaigns/triggers/start', { id: campaign, email, content: {} }));
      }
      const failed = await eventually(async () => {
        const l = ok(await s.call('messages/list', { campaign_id: campaign })).data as Msg[];
        return l.length === 2 && l.every((m) => m.status === 'failed') && l;
      }, 15_000, 'both to fail after their attempts');
      for (const m of failed) {
        assert.equal(m.attempts, 2);
        assert.match(m.last_error!, /gave up after 2 attempts/);
        ids.push(m.id);
      }
      refused.clear();

      assert.deepEqual(ok(await s.call('messages/retry', { campaign_id: campaign, limit: 1 })).data, { queued: 1, more: true });
      assert.deepEqual(ok(await s.call('messages/retry', { campaign_id: String(campaign), limit: 1 })).data, { queued: 1, more: false });
      for (const id of ids) {
        const m = await settled(id, 'sent');
        assert.equal(m.attempts, 1, 'a re-driven message starts again from attempt 1');
        assert.ok(m.history.some((h) => h.detail === REDRIVEN));
      }
      assert.equal(smtp.received.filter((x) => /^Override for (John|Ann)$/.test(x.mail.subject ?? '')).length, 2);
      assert.deepEqual(ok(await s.call('messages/retry', { campaign_id: campaign })).data, { queued: 0, more: false });
    });

    it('answers 400 in the envelope for a call that names nothing or asks for another status', async () => {
      const none = await s.call('messages/retry', {});
      assert.equal(none.status, 400);
      assert.deepEqual(none.body, { error: 400, error_text: "one of the fields 'ids', 'launch_id' or 'campaign_id' is required", data: null });
      const sentToo = await s.call('messages/retry', { launch_id: 1, status: 'sent' });
      assert.equal(sentToo.status, 400);
      assert.match(sentToo.body.error_text, /field 'status' must be one of "failed"/);
      const empty = await s.call('messages/retry', { ids: [] });
      assert.equal(empty.status, 400);
      assert.equal(empty.body.error_text, "field 'ids' must NOT have fewer than 1 items");
      const tooMany = await s.call('messages/retry', { ids: Array.from({ length: 10_001 }, (_, i) => i + 1) });
      assert.equal(tooMany.status, 400);
      assert.equal(tooMany.body.error_text, "field 'ids' must NOT have more than 10000 items");
      const noToken = await s.call('messages/retry', { token: '', ids: [1] });
      assert.equal(noToken.status, 401);
    });
  });
}
