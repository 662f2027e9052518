/**
 * Issue 24, items 1 and 2: hostile SMSCs and their receipts, through the HTTP API against the `smpp`
 * package's server.
 * - A receipt changes only a message of the SMSC that sent it: two SMSCs both numbering from the same
 *   id, A's UNDELIV does not touch B's message.
 * - A flood of thousands of receipts for one message id (changing ones and exact repeats) leaves
 *   /health answering fast throughout, every deliver_sm answered, and a history capped to its first and
 *   last entries with a count of the rest.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import type { PDU } from 'smpp';
import { HISTORY_CAP } from '../../src/core/history.ts';
import { eventually, ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';
import { startSmsc, type TestSmsc } from '../smsc.ts';
import { watchHealth } from './store-helpers.ts';

// biome-ignore lint/suspicious/noExplicitAny: messages/get answers a loosely typed object, checked by the assertions
type Message = Record<string, any>;

/** A database, a template, and per SMSC a resource and a campaign; one profile per phone. */
async function setup(s: TestServer, smscs: TestSmsc[], phone: string) {
  const db = ok(await s.call('databases/add', { name: 'sms' })).data.id;
  const template = ok(await s.call('templates/add', { name: 'sms', channels: [{ sid: 'sms', fields: { text: '{apicontent.text}' } }] })).data.id;
  const campaigns: number[] = [];
  const resources: number[] = [];
  for (const [i, smsc] of smscs.entries()) {
    const resource = ok(await s.call('resources/add', { name: `R${i}`, channels: ['sms'], sms: { sender: 'SHOP', smpp: { url: smsc.url } } })).data.id;
    resources.push(resource);
    campaigns.push(
      ok(await s.call('campaigns/triggers/add', { name: `c${i}`, trigger_type: 'api_call', send_channel: 'sms', resource_id: resource, db_id: db, content: [{ message_id: template }], is_active: true })).data.id,
    );
  }
  ok(await s.call('profiles/import', { db_id: db, matching: 'phone', phone, data: { phones: [phone], subscriptions: resources.map((resource_id) => ({ resource_id, channel: 'sms', phone })) } }));
  const start = async (campaign: number, text: string): Promise<number> => {
    ok(await s.call('campaigns/triggers/start', { id: campaign, matching: 'phone', phone, content: { text } }));
    return (ok(await s.call('messages/list', { campaign_id: campaign, limit: 10 })).data as Message[])[0].id;
  };
  const message = async (id: number, done: (m: Message) => boolean, timeoutMs = 15_000): Promise<Message> =>
    eventually(async () => {
      const m = ok(await s.call('messages/get', { id })).data as Message;
      return done(m) ? m : null;
    }, timeoutMs, `message ${id}`);
  return { campaigns, start, message };
}

/** Sends a receipt text for `id` from the SMSC's bound session; resolves with the deliver_sm_resp status. */
function receipt(smsc: TestSmsc, id: string, stat: string, err = '000'): Promise<number> {
  const session = smsc.sessions.find((x) => !x.socket.destroyed)!;
  return new Promise((resolve) => {
    session.deliver_sm(
      { source_addr: '79000000001', destination_addr: 'SHOP', esm_class: 0x04, short_message: `id:${id} sub:001 dlvrd:000 submit date:2611281200 done date:2611281201 stat:${stat} err:${err} text:` },
      (resp: PDU) => resolve(resp.command_status),
    );
  });
}

for (const kind of STORE_KINDS) {
  describe(`hostile SMSC receipts on ${kind}`, () => {
    const closers: (() => Promise<unknown>)[] = [];
    after(async () => {
      for (const c of closers.reverse()) await c();
    });
    const smscOn = async () => {
      const smsc = await startSmsc();
      smsc.autoReceipt = false;
      closers.push(() => smsc.close());
      return smsc;
    };

    test("two SMSCs numbering from the same id: A's UNDELIV changes only A's message", async () => {
      const [a, b] = [await smscOn(), await smscOn()];
      const s = await startServer({ kind, workers: true });
      closers.push(() => s.close());
      const shop = await setup(s, [a, b], '+79000000001');
      const ofA = await shop.message(await shop.start(shop.campaigns[0], 'to A'), (m) => m.status === 'sent');
      const ofB = await shop.message(await shop.start(shop.campaigns[1], 'to B'), (m) => m.status === 'sent');
      assert.equal(a.submits[0].messageId, b.submits[0].messageId, 'both SMSCs gave the same id');
      assert.equal(await receipt(a, a.submits[0].messageId!, 'UNDELIV', '011'), 0);
      const undelivered = await shop.message(ofA.id, (m) => m.status === 'undelivered');
      assert.match(undelivered.history.at(-1).detail, /stat UNDELIV, err 011/);
      const bNow = ok(await s.call('messages/get', { id: ofB.id })).data as Message;
      assert.equal(bNow.status, 'sent', "B's message is left alone");
      // B's own receipt for the same id delivers B's message, and A's stays undelivered.
      assert.equal(await receipt(b, b.submits[0].messageId!, 'DELIVRD'), 0);
      await shop.message(ofB.id, (m) => m.status === 'delivered');
      assert.equal((ok(await s.call('messages/get', { id: ofA.id })).data as Message).status, 'undelivered');
    });

    test('a flood of receipts for one id: /health stays fast, every deliver_sm is answered, the history is capped', async (t) => {
      // tsx registered in the thread, as src/delivery/smtp-channel.ts does for the mailer thread.
      const source = new URL('./flood-smsc.ts', import.meta.url).href;
      const flooder = new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(source)}); });`, { eval: true });
      const next = <T>(): Promise<T> => new Promise((resolve) => flooder.once('message', resolve));
      const { url } = await next<{ url: string }>();
      closers.push(async () => {
        flooder.postMessage({ close: true });
        await new Promise((r) => flooder.once('exit', r));
      });
      const s = await startServer({ kind, workers: true });
      closers.push(() => s.close());
      const shop = await setup(s, [{ url } as TestSmsc], '+79000000002');
      const sent = await shop.message(await shop.start(shop.campaigns[0], 'flood me'), (m) => m.status === 'sent');
      flooder.postMessage({ submits: true });
      const [id] = (await next<{ ids: string[] }>()).ids;

      // /health polled all through the flood, one request after another.
      const poller = watchHealth(s.url, 10);

      // 3,000 receipts that each change the part's state (delivered, then not yet, ...: each err code is
      // its own), then 3,000 exact repeats of the last: all sent at once, as a hostile SMSC would.
      const CHANGING = 3000;
      const REPEATS = 3000;
      const flood = [
        ...Array.from({ length: CHANGING }, (_, i) => ({ id, stat: i % 2 === 0 ? 'DELIVRD' : 'ACCEPTD', err: String(i).padStart(3, '0') })),
        ...Array.from({ length: REPEATS + 1 }, () => ({ id, stat: 'DELIVRD', err: 'end' })),
      ];
      const loop = monitorEventLoopDelay({ resolution: 5 });
      loop.enable();
      flooder.postMessage({ flood });
      const { statuses } = await next<{ statuses: number[] }>();
      loop.disable();
      const { samples: health, failed } = await poller.stop();
      assert.equal(failed, 0, '/health answered 200 every time');

      const worst = Math.max(...health);
      t.diagnostic(`${statuses.length} receipts answered; /health answered ${health.length} times, worst ${worst.toFixed(1)} ms, median ${health.sort((x, y) => x - y)[health.length >> 1].toFixed(1)} ms; the event loop's longest delay ${(loop.max / 1e6).toFixed(1)} ms`);
      assert.equal(statuses.length, CHANGING + 1 + REPEATS, 'every deliver_sm answered');
      assert.ok(statuses.every((c) => c === 0 || c === 0x64), `only ESME_ROK or "try later": ${[...new Set(statuses)]}`);
      assert.ok(health.length >= 3, `/health answered ${health.length} times`);
      // The bound is 200 ms on an idle machine (measured: 20 to 35 ms at worst); the margin is for a loaded
      // 2-core CI, where the process itself is not always given the CPU. Before the fix: over 900 ms, and fetch failures.
      assert.ok(worst < 750, `/health took ${worst.toFixed(1)} ms at worst`);
      assert.ok(health[health.length >> 1] < 100, `/health took ${health[health.length >> 1].toFixed(1)} ms at the median`);

      const m = await shop.message(sent.id, (x) => x.status === 'delivered' && x.history.at(-1).detail.includes('err end'));
      assert.ok(m.history.length <= HISTORY_CAP, `history of ${m.history.length} entries`);
      assert.deepEqual(m.history.slice(0, 3).map((h: { status: string }) => h.status), ['queued', 'sending', 'sent'], 'the first entries are kept');
      const count = m.history.find((h: { omitted?: number }) => h.omitted);
      assert.ok(count, 'one entry counts what was left out');
      assert.match(count.detail, /^\d+ entries left out here/);
      // The repeats wrote nothing: the kept and counted entries are the state changes, at most one per changing receipt (+ the last).
      const changes = m.history.length - 1 + count.omitted - 3;
      assert.ok(changes <= CHANGING + 1, `${changes} receipt entries for ${CHANGING + 1} changing receipts`);
      assert.equal(m.history.filter((h: { detail?: string }) => h.detail?.includes('err end')).length, 1, 'the repeated receipt is recorded once');
    });
  });
}
