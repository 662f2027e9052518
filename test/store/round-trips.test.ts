/**
 * The round-trip budget of a trigger, and of delivering a message, on PostgreSQL, counted by the driver (statements, and the times it
 * went from waiting on nothing to waiting on the server): every round trip is ~0.4 ms of a request's
 * latency, so the count is the figure that does not depend on the machine's load.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { PgDriver } from '../../src/store/postgres/driver.ts';
import { driverOf } from '../../src/store/store.ts';
import { eventually, ok, PG_URL, startServer, type TestServer } from '../helpers.ts';
import { setupShop, startShop, stopShop, type Shop } from '../fixture.ts';

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

describe('round trips per delivered message on postgres', { skip: PG_URL ? false : 'needs SALVO_TEST_PG_URL' }, () => {
  it('delivers 400 mails through the dispatcher at under 1.5 round trips each (3 before; about 0.8 now)', async () => {
    const N = 400;
    // Workers off while the launch is written: only delivery is counted.
    const { s, smtp, shop } = await startShop({ kind: 'postgres', workers: false });
    try {
      const emails = Array.from({ length: N }, (_, i) => `rt${i}@example.com`);
      ok(await s.call('profiles/import_batch', { db_id: shop.db, data: emails.map((email) => ({ email, Segment: 'rt', subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] })) }));
      const launch = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, custom_request: { Segment: 'rt' } });
      ok(launch);
      const launchId = Number(launch.headers.get('launch-id'));
      const store = s.app.store;
      const statuses = async () => store.countMessagesByStatus(launchId);
      await eventually(async () => (await statuses()).queued === N, 10_000, `${N} messages queued`);
      const count = (driverOf(store) as PgDriver).count;
      const [statements, roundTrips] = [count.statements, count.roundTrips];
      s.app.startWorkers();
      const mails = await smtp.waitFor(N, 60_000);
      // Every outcome recorded, not only sent: a message is delivered when its outcome is stored.
      await eventually(async () => (await statuses()).sent === N, 20_000, `${N} outcomes recorded`);
      const used = { statements: count.statements - statements, roundTrips: count.roundTrips - roundTrips };
      const perMessage = used.roundTrips / N;
      assert.deepEqual(new Set(mails.flatMap((m) => m.to)), new Set(emails), 'each address once');
      assert.equal(mails.length, N, 'none twice');
      // Counted over everything the process did meanwhile (the other loops poll every 50 ms here too), so an upper bound.
      assert.ok(perMessage < 1.5, `${perMessage.toFixed(2)} round trips per message (${used.roundTrips} round trips, ${used.statements} statements for ${N})`);
    } finally {
      await stopShop(s, smtp);
    }
  });

  it('delivers 200 triggers (a launch each) reading launches with the claims, not one by one (2 reads a message before: the launch and its attachments)', async () => {
    const N = 200;
    const { s, smtp, shop } = await startShop({ kind: 'postgres', workers: false });
    try {
      const emails = Array.from({ length: N }, (_, i) => `tr${i}@example.com`);
      ok(await s.call('profiles/import_batch', { db_id: shop.db, data: emails.map((email) => ({ email, subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] })) }));
      for (const email of emails) ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { n: email } }));
      const store = s.app.store;
      // One statement a look.
      const sent = async () => (await store.countMessagesSince(0, 0)).filter((r) => r.status === 'sent').reduce((n, r) => n + Number(r.n), 0);
      const before = await sent();
      // Every statement sent on the pool (transactions run on connections of their own and are not seen here).
      const driver = driverOf(store) as PgDriver;
      const seen: string[] = [];
      const all = driver.all.bind(driver);
      driver.all = (sql, params) => {
        seen.push(sql);
        return all(sql, params);
      };
      s.app.startWorkers();
      const mails = await smtp.waitFor(N, 60_000);
      await eventually(async () => (await sent()) - before === N, 20_000, `${N} outcomes recorded`);
      assert.equal(mails.length, N, 'each once');
      assert.deepEqual(new Set(mails.flatMap((m) => m.to)), new Set(emails));
      // What composing a send read before, one by one: its launch, its attachments.
      const oneByOne = seen.filter((q) => /^SELECT \* FROM launches WHERE id = \?$|FROM launch_attachments WHERE launch_id = \?/.test(q.trim())).length;
      const withClaims = seen.filter((q) => q.includes('has_attachments')).length;
      const claims = seen.filter((q) => q.includes("SET status = 'sending'")).length;
      const counts = `${oneByOne} launch or attachment reads of one, ${withClaims} of a claim's, ${claims} claims for ${N} messages (${seen.length} statements on the pool)`;
      assert.ok(oneByOne < N / 10, counts);
      assert.ok(withClaims <= claims, counts);
    } finally {
      await stopShop(s, smtp);
    }
  });
});
