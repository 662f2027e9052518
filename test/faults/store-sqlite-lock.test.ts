/**
 * Issue 8, item 1: another process holds SQLite's write lock (BEGIN IMMEDIATE) for seconds while
 * triggers arrive and messages are being delivered. The process lives, the event loop never stalls
 * for the lock, writes answer 503 with Retry-After, and afterwards every acknowledged trigger's
 * message arrives exactly once.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { eventually } from '../helpers.ts';
import { addProfile, startShop, stopShop } from '../fixture.ts';
import { assertAnswers, deliveredOnce, holdWriteLock, sendTriggers, worstStall, type Answer } from './store-helpers.ts';
import { assertTiming } from '../timing.ts';

const RETRY_MS = 1000;
/** Writes answered 503 while the lock is held before it is let go: enough to show the behaviour. */
const REFUSED_WHILE_LOCKED = 16;

describe('SQLite write lock held by another process', () => {
  let env: Awaited<ReturnType<typeof startShop>>;
  before(async () => {
    env = await startShop({ env: { SALVO_STORE_RETRY_MS: String(RETRY_MS) } });
  });
  after(async () => stopShop(env.s, env.smtp));

  it('answers 503 with Retry-After while locked, never stalls, and delivers every acknowledged trigger once', async (t) => {
    const { s, smtp, shop } = env;
    const { result: answers, stallMs } = await worstStall(async () => {
      const before = await sendTriggers(s, shop, 'before', 200);
      const lock = holdWriteLock(path.join(s.config.dataDir, 'salvo.db'));
      await eventually(async () => lock.said.includes('locked'), 10_000, 'the other process to take the lock');
      const during: Answer[] = [];
      let round = 0;
      // The lock is held, well past SALVO_STORE_RETRY_MS, until enough writes have been refused for it.
      while (!lock.said.includes('released')) {
        during.push(...(await sendTriggers(s, shop, `during-${round++}`, 8)));
        if (during.filter((a) => a.status === 503).length >= REFUSED_WHILE_LOCKED) lock.release();
      }
      await eventually(async () => lock.child.exitCode !== null, 10_000, 'the lock holder to exit');
      const afterwards = await sendTriggers(s, shop, 'after', 60);
      return { before, during, afterwards };
    });

    t.diagnostic(`worst stall ${Math.round(stallMs)} ms; ${answers.during.filter((a) => a.status === 503).length} of ${answers.during.length} writes during the lock answered 503`);
    const all = [...answers.before, ...answers.during, ...answers.afterwards];
    assertAnswers(all, RETRY_MS * 3 + 1000);
    assert.ok(answers.during.some((a) => a.status === 503), 'writes during the lock answered 503');
    assert.ok(answers.before.every((a) => a.status === 200) && answers.afterwards.every((a) => a.status === 200), 'writes without the lock succeed');
    assertTiming('worst event-loop stall while the store is locked', stallMs, { targetMs: 200, boundMs: 2000 });
    assert.equal((await fetch(`${s.url}/health`)).status, 200);

    const acknowledged = all.filter((a) => a.status === 200).map((a) => a.title);
    const counts = await deliveredOnce(s, smtp, acknowledged);
    for (const title of acknowledged) assert.equal(counts.get(title), 1, `${title} delivered ${counts.get(title)} times`);
    for (const [title, n] of counts) assert.equal(n, 1, `${title} delivered ${n} times`);
    // A 503 means the trigger was not stored: nothing is sent for it.
    const refused = new Set(all.filter((a) => a.status === 503).map((a) => a.title));
    assert.deepEqual([...counts.keys()].filter((t) => refused.has(t)), []);
  });

  it('keeps no answer for a Request-ID refused while locked: its retry runs once, and a repeat then gets that answer', async () => {
    const { s, smtp, shop } = env;
    // A one-profile start claims its key with the launch's own write: under the lock both fail together.
    const body = { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'sealed under lock', data_lines: [] } };
    const headers = { 'request-id': 'sealed-under-lock' };
    const lock = holdWriteLock(path.join(s.config.dataDir, 'salvo.db'));
    await eventually(async () => lock.said.includes('locked'), 10_000, 'the other process to take the lock');
    const refused = await s.call('campaigns/triggers/start', body, { headers });
    lock.release();
    await eventually(async () => lock.child.exitCode !== null, 10_000, 'the lock holder to exit');
    assert.equal(refused.status, 503, JSON.stringify(refused.body));
    assert.ok(refused.headers.get('retry-after'));

    const retried = await s.call('campaigns/triggers/start', body, { headers });
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.equal(retried.headers.get('duplicate-request'), null, 'the refused call kept no answer: the retry runs');
    const repeat = await s.call('campaigns/triggers/start', body, { headers });
    assert.equal(repeat.headers.get('duplicate-request'), 'true');
    assert.equal(repeat.headers.get('launch-id'), retried.headers.get('launch-id'));
    const counts = await deliveredOnce(s, smtp, ['sealed under lock']);
    assert.equal(counts.get('sealed under lock'), 1);
  });
});

describe('SQLite write lock taken while an outcome is being recorded', () => {
  let env: Awaited<ReturnType<typeof startShop>>;
  before(async () => {
    // One worker: the slot the first message frees is the only one there is. Upkeep (a write, so it
    // would wait for the lock) runs once at start and then not within the test.
    env = await startShop({ env: { SALVO_WORKERS: '1', SALVO_POLL_MS: '60000', SALVO_STORE_RETRY_MS: String(RETRY_MS) } });
  });
  after(async () => stopShop(env.s, env.smtp));

  it("sends the next message while the first one's outcome waits for the lock, then records both once", async () => {
    const { s, smtp, shop } = env;
    for (const email of ['slot1@example.com', 'slot2@example.com']) await addProfile(s, shop.db, { email, subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] });
    // The server holds the first mail until the lock is taken, so its outcome is written under the lock.
    smtp.verdict = (n) => (n === 1 ? { delayMs: 1500 } : null);
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, custom_request: { email: { $regex: '^slot[12]@' } }, content: { email_title: 'slot under lock', data_lines: [] } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    await smtp.dataArrived(1);
    const lock = holdWriteLock(path.join(s.config.dataDir, 'salvo.db'));
    try {
      await eventually(async () => lock.said.includes('locked'), 10_000, 'the other process to take the lock');
      const second = await Promise.race([smtp.dataArrived(2).then(() => 'arrived'), new Promise((r) => setTimeout(r, RETRY_MS * 5, 'not yet'))]);
      assert.equal(second, 'arrived', 'the second mail went out while the first outcome waited for the lock');
      assert.ok(!lock.said.includes('released'));
    } finally {
      lock.release();
    }
    const counts = await deliveredOnce(s, smtp, ['slot under lock']);
    assert.equal(counts.get('slot under lock'), 2);
    const launch = Number(r.headers.get('launch-id'));
    const list = (await s.call('messages/list', { launch_id: launch, limit: 10 })).body as { data: { status: string }[] };
    assert.deepEqual(list.data.map((m) => m.status), ['sent', 'sent']);
  });
});
