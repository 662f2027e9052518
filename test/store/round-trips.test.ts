/**
 * The round-trip budget of a trigger on PostgreSQL, counted by the driver (statements, and the times it
 * went from waiting on nothing to waiting on the server): every round trip is ~0.4 ms of a request's
 * latency, so the count is the figure that does not depend on the machine's load.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PgDriver } from '../../src/store/postgres/driver.ts';
import { driverOf } from '../../src/store/store.ts';
import { ok, PG_URL, startServer, type TestServer } from '../helpers.ts';
import { setupShop, type Shop } from '../fixture.ts';

describe('round trips per launch on postgres', { skip: PG_URL ? false : 'needs SALVO_TEST_PG_URL' }, () => {
  let s: TestServer;
  let shop: Shop;
  before(async () => {
    // No workers: only the request's own statements are counted.
    s = await startServer({ kind: 'postgres', workers: false });
    shop = await setupShop(s);
  });
  after(() => s?.close());

  /** What one call costs the driver. */
  const counted = async (method: string, body: Record<string, unknown>, headers: Record<string, string> = {}) => {
    const count = (driverOf(s.app.store) as PgDriver).count;
    const [statements, roundTrips] = [count.statements, count.roundTrips];
    const r = ok(await s.call(method, body, { headers }));
    return { body: r, statements: count.statements - statements, roundTrips: count.roundTrips - roundTrips };
  };

  it('a one-profile launch by profile_id, deduplicated: at most 3 round trips (9 before, 4 with a separate claim and answer)', async () => {
    // A warm-up, so the campaign and database are in the catalog's cache as in a running server.
    await counted('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: shop.profiles.ann, request_id: 'warm' });
    // A look at the key; the profile, its subscriptions and recent sends, read together; one statement
    // writing the launch, its message, its log line and the key's answer.
    const c = await counted('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: shop.profiles.john });
    assert.ok(c.roundTrips <= 3, `${c.roundTrips} round trips (${c.statements} statements)`);
    // The answer was kept by that write: a repeat is answered from it, and runs nothing.
    const again = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: shop.profiles.john });
    assert.equal(again.headers.get('duplicate-request'), 'true');
    const launches = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email })).data;
    assert.equal(launches.length, 2);
  });

  it('a one-profile launch by email (the default matching), deduplicated: at most 3 round trips (5 before)', async () => {
    // The profile by its email field and by its email subscriptions, and its subscriptions, read together.
    const c = await counted('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { n: 'by email' } });
    assert.ok(c.roundTrips <= 3, `${c.roundTrips} round trips (${c.statements} statements)`);
    assert.ok(c.statements <= 5, `${c.statements} statements`);
  });

  it('without deduplication (SALVO_DEDUP_HOURS=0): at most 3 round trips (7 before)', async () => {
    const plain = await startServer({ kind: 'postgres', workers: false, env: { SALVO_DEDUP_HOURS: '0' } });
    try {
      const own = await setupShop(plain);
      const count = (driverOf(plain.app.store) as PgDriver).count;
      const start = (profile: string) => plain.call('campaigns/triggers/start', { id: own.campaigns.email, matching: 'profile_id', profile_id: profile });
      ok(await start(own.profiles.ann));
      const [statements, roundTrips] = [count.statements, count.roundTrips];
      ok(await start(own.profiles.john));
      const used = { statements: count.statements - statements, roundTrips: count.roundTrips - roundTrips };
      assert.ok(used.roundTrips <= 3, `${used.roundTrips} round trips (${used.statements} statements)`);
      // What it wrote: the launch, its message and the campaign log line, all there.
      const log = ok(await plain.call('campaigns/log_v2', { id: own.campaigns.email })).data;
      assert.ok(JSON.stringify(log).includes('1 queued'), JSON.stringify(log));
    } finally {
      await plain.close();
    }
  });
});
