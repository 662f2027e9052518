/**
 * The mailer thread dies: killed mid-send, or run out of memory by a message too large for its heap.
 * The thread is replaced, what was in it is retried, and a message that kills every thread it enters
 * ends failed after a few deaths, naming the crash. The process and the other messages go on.
 */
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, type TestServer } from '../helpers.ts';
import { addProfile, shopCampaign, startShop, stopShop, type Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';
import { MAX_CRASHES } from '../../src/core/outcome.ts';

type Msg = { id: number; status: string; attempts: number; last_error: string | null; history: { status: string; detail?: string }[] };

const messagesOf = async (s: TestServer, launchId: number): Promise<Msg[]> => ok(await s.call('messages/list', { launch_id: launchId, limit: 100 })).data;

describe('a mailer thread that dies', () => {
  let smtp: TestSmtp;
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    ({ s, smtp, shop } = await startShop({ env: { SALVO_MAILER_HEAP_MB: '16', SALVO_RENDER_OUTPUT_LIMIT: '64mb' } }));
    for (let i = 0; i < 6; i++) {
      const email = `t${i}@example.com`;
      await addProfile(s, shop.db, { email, subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });
    }
  });
  after(() => stopShop(s, smtp));

  it('is replaced when killed mid-send, and its sends are delivered once', async () => {
    smtp.verdict = () => ({ delayMs: 300 });
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, custom_request: { email: { $regex: '^t[0-9]@' } }, content: { email_title: 'killed thread' } });
    ok(r);
    await smtp.dataArrived(1);
    const smtpChannel = s.app.channels.smtp!;
    await (smtpChannel as unknown as { thread: Worker }).thread.terminate();
    const launchId = Number(r.headers.get('launch-id'));
    const done = await eventually(async () => {
      const list = await messagesOf(s, launchId);
      return list.length === 6 && list.every((m) => m.status === 'sent') && list;
    }, 20_000, 'every message sent after the thread was replaced');
    assert.equal(smtpChannel.restarts, 1);
    const got = smtp.received.filter((x) => x.mail.subject === 'killed thread').flatMap((x) => x.to).sort();
    // What the killed thread had handed to the server before it died may arrive twice (bounded by the
    // sends in flight); everything arrives.
    assert.deepEqual([...new Set(got)], Array.from({ length: 6 }, (_, i) => `t${i}@example.com`));
    assert.ok(got.length <= 6 + 5, `at most the in-flight sends twice, got ${got.length}`);
    const histories = await Promise.all(done.map(async (m) => ok(await s.call('messages/get', { id: m.id })).data as Msg));
    const retried = histories.filter((m) => m.history.some((h) => h.detail?.includes('mailer thread died')));
    assert.ok(retried.length >= 1, 'a retried message names the crash');
    // Several sends were in flight, so none is blamed: no crash is counted against them.
    for (const m of retried) assert.ok(!m.history.some((h) => h.detail?.startsWith('the sending thread crashed')), JSON.stringify(m.history));
    smtp.verdict = () => null;
  });

  it('fails a message too large for the thread after a few deaths, and sends the others', async () => {
    const before = s.app.channels.smtp!.restarts;
    // ~16 MB of HTML, as much as the thread's whole heap: at 8 MB a fresh thread now and then sent it (2 runs in 6 on a busy machine).
    const campaign = await shopCampaign(s, shop, 'Huge', { email: { subject: 'huge', html: '{for i in apicontent.n}{apicontent.s}{end}' } });
    const poison = ok(await s.call('campaigns/triggers/start', { id: campaign, email: 't0@example.com', content: { s: 'x'.repeat(400_000), n: Array.from({ length: 40 }, (_, i) => i) } }));
    const fine = ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 't1@example.com', content: { email_title: 'alongside the poison' } }));
    assert.ok(poison && fine);

    const poisonNow = async () => ok(await s.call('messages/list', { campaign_id: campaign })).data as Msg[];
    const [m] = await eventually(async () => {
      const list = await poisonNow();
      return list.length === 1 && list[0].status === 'failed' && list;
    }, 30_000, 'the poison message to fail').catch(async (e: Error) => {
      // Timed out once in CI, not reproduced: on failure, say where the message and the thread were.
      const channel = s.app.channels.smtp!;
      const list = await poisonNow();
      const full = list.length ? (ok(await s.call('messages/get', { id: list[0].id })).data as Msg) : null;
      throw new Error(`${e.message}; the message: ${JSON.stringify(full)}; thread restarts ${channel.restarts - before}, alive ${channel.alive()}, last crash ${channel.lastCrash}`);
    });
    const full = ok(await s.call('messages/get', { id: m.id })).data as Msg;
    assert.match(full.last_error!, new RegExp(`the sending thread crashed while sending it \\(${MAX_CRASHES} of ${MAX_CRASHES}\\).*memory`));
    assert.equal(full.history.filter((h) => h.detail?.startsWith('the sending thread crashed')).length, MAX_CRASHES);
    // One more when the first death took the other message down too (two in flight: no one blamed).
    const restarts = s.app.channels.smtp!.restarts - before;
    assert.ok(restarts >= MAX_CRASHES && restarts <= MAX_CRASHES + 1, `${restarts} restarts`);
    await eventually(async () => smtp.received.some((x) => x.mail.subject === 'alongside the poison'), 20_000, 'the other message to arrive');
    // The server still answers.
    ok(await s.call('messages/get', { id: m.id }));
  });
});
