/**
 * The webhook sender under a store fault: another process holds SQLite's write lock while events are
 * due. The sender cannot claim or record deliveries; it backs off (never the process's death), the
 * API stays answering, and afterwards every message.sent event reaches the receiver exactly once
 * (no crash happened, so nothing may be posted twice).
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startShop, stopShop } from '../fixture.ts';
import { eventually } from '../helpers.ts';
import { startReceiver, type Receiver } from '../webhook-receiver.ts';
import { holdWriteLock, sendTriggers, type Answer } from './store-helpers.ts';

/** Triggers refused (503) while the lock is held before it is let go: the lock outlasts several retries. */
const REFUSED_WHILE_LOCKED = 6;

describe('webhook deliveries while another process holds the SQLite write lock', () => {
  let env: Awaited<ReturnType<typeof startShop>>;
  let receiver: Receiver;
  before(async () => {
    env = await startShop({ env: { SALVO_STORE_RETRY_MS: '500' } });
    receiver = await startReceiver();
  });
  after(async () => {
    await stopShop(env.s, env.smtp);
    await receiver.close();
  });

  it('keeps answering, then posts every message.sent event once', async () => {
    const { s, shop } = env;
    const added = await s.call('webhooks/add', { url: `${receiver.url}/events`, events: ['message.sent'] });
    assert.equal(added.body.error, 0, added.body.error_text);

    const before = await sendTriggers(s, shop, 'before', 30);
    const lock = holdWriteLock(path.join(s.config.dataDir, 'salvo.db'));
    await eventually(async () => lock.said.includes('locked'), 10_000, 'the other process to take the lock');
    const during: Answer[] = [];
    for (let round = 0; !lock.said.includes('released'); round++) {
      during.push(...(await sendTriggers(s, shop, `during-${round}`, 4)));
      assert.equal((await fetch(`${s.url}/health`)).status, 200, 'alive while the lock is held');
      if (during.filter((a) => a.status === 503).length >= REFUSED_WHILE_LOCKED) lock.release();
    }
    await eventually(async () => lock.child.exitCode !== null, 10_000, 'the lock holder to exit');
    const afterwards = await sendTriggers(s, shop, 'after', 10);

    const acknowledged = [...before, ...during, ...afterwards].filter((a) => a.status === 200).length;
    assert.ok(during.some((a) => a.status === 503), 'writes during the lock were refused');
    // One message per acknowledged trigger; each message's event arrives, and none twice.
    await eventually(async () => new Set(receiver.at('/events').map((r) => r.json.data.message_id)).size >= acknowledged, 60_000, 'an event for every message');
    const deliveries = await s.call('webhooks/deliveries', { id: added.body.data.id, limit: 100 });
    assert.equal(deliveries.body.error, 0, deliveries.body.error_text);
    const posted = receiver.at('/events');
    const ids = posted.map((r) => r.headers['webhook-id']);
    assert.equal(new Set(ids).size, ids.length, 'no event posted twice');
    const messages = posted.map((r) => r.json.data.message_id);
    assert.equal(new Set(messages).size, messages.length, 'one event per message');
    assert.equal(messages.length, acknowledged);
  });
});
