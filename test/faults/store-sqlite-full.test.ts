/**
 * Issue 8, item 1: the disk fills up under SQLite (SQLITE_FULL, simulated with PRAGMA max_page_count
 * on the server's own connection). Writes answer 503, the process lives, and once there is room
 * again everything acknowledged is delivered, once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { driverOf } from '../../src/store/store.ts';
import { startShop, stopShop } from '../fixture.ts';
import { eventually } from '../helpers.ts';
import { assertAnswers, deliveredOnce, sendTriggers, type Answer } from './store-helpers.ts';

describe('SQLite disk full', () => {
  let env: Awaited<ReturnType<typeof startShop>>;
  before(async () => {
    env = await startShop({ env: { SALVO_STORE_RETRY_MS: '500' } });
  });
  after(async () => stopShop(env.s, env.smtp));

  it('answers 503 while the disk is full and delivers everything acknowledged once there is room', async () => {
    const { s, smtp, shop } = env;
    const db = driverOf(s.app.store);
    const first = await sendTriggers(s, shop, 'first', 30);
    // The database may not grow past its present size: the next page it needs fails with SQLITE_FULL.
    await db.exec('PRAGMA max_page_count = 1');
    const full: Answer[] = [];
    await eventually(
      async () => {
        full.push(...(await sendTriggers(s, shop, `full-${full.length}`, 20, 4)));
        return full.some((a) => a.status === 503);
      },
      20_000,
      'a write to fail for want of room',
    );
    const refused = full.filter((a) => a.status === 503);
    assert.match(refused[0].body.error_text, /disk is full: SQLITE_FULL/);
    assert.equal((await fetch(`${s.url}/health`)).status, 200);

    await db.exec('PRAGMA max_page_count = 1073741823');
    const later = await sendTriggers(s, shop, 'later', 30);
    const all = [...first, ...full, ...later];
    assertAnswers(all, 5000);
    assert.ok([...first, ...later].every((a) => a.status === 200));

    const acknowledged = all.filter((a) => a.status === 200).map((a) => a.title);
    const counts = await deliveredOnce(s, smtp, acknowledged);
    for (const [title, n] of counts) assert.equal(n, 1, `${title} delivered ${n} times`);
    const refusedTitles = new Set(refused.map((a) => a.title));
    assert.deepEqual([...counts.keys()].filter((t) => refusedTitles.has(t)), [], 'a refused trigger was not stored');
  });
});
