/**
 * Issue 8, item 5: large content is refused (413) rather than held, caches are bounded by entries,
 * bytes and age, and after a run of large calls the heap returns near its baseline once idle.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { Cache } from '../../src/support/cache.ts';
import { LAUNCH_CACHE_BYTES } from '../../src/engine/catalog.ts';
import { eventually, ok, startServer, type TestServer } from '../helpers.ts';
import { addCampaign, setupShop, type Shop } from '../fixture.ts';

// The runner does not pass --expose-gc; this makes a gc() for measuring without it.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const heapUsed = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const MB = 1024 * 1024;

describe('memory: content limit and bounded caches', () => {
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    s = await startServer({ workers: true });
    shop = await setupShop(s);
  });
  after(() => s.close());

  it('answers 413 naming the limit to 2 MB of content, single and batch, and keeps nothing', async () => {
    const big = 'x'.repeat(2 * MB);
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { big } });
    assert.equal(r.status, 413);
    assert.equal(r.body.error, 413);
    assert.match(r.body.error_text, /^content and custom_data are \d+ bytes together, over the limit of 1048576 bytes \(SALVO_CONTENT_LIMIT\)$/);
    assert.equal(r.headers.get('launch-id'), null);

    const half = 'y'.repeat(0.6 * MB);
    const split = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { half }, custom_data: { half } });
    assert.equal(split.status, 413, 'content and custom_data count together');

    const batch = await s.call('campaigns/triggers/start_batch', {
      trigger_id: shop.campaigns.email,
      content: { half },
      data: [{ email: 'john@example.com' }, { email: 'ann@example.com', custom_data: { half } }],
    });
    assert.equal(batch.status, 413);
    assert.match(batch.body.error_text, /^data\[1\]: content and custom_data are \d+ bytes together, over the limit of 1048576 bytes/);
    const sent = ok(await s.call('messages/list', { campaign_id: shop.campaigns.email })).data;
    assert.equal(sent.length, 0, 'no launch was stored');
  });

  it('takes content just under the limit, and the heap returns near its baseline when idle', async () => {
    const baseline = heapUsed();
    const calls = 40; // 40 MB of content in all, more than the launch cache may hold
    const launches: number[] = [];
    for (let i = 0; i < calls; i++) {
      const content = { email_title: `near ${i}`, pad: String(i % 10).repeat(MB - 100) };
      const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content }, { headers: { 'request-id': `near-${i}` } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      launches.push(Number(r.headers.get('launch-id')));
    }
    // Every message is captured (no SMTP here: the outbox), so each launch went through the delivery's cache.
    await eventually(
      async () => {
        for (const launch_id of launches) {
          const [m] = ok(await s.call('messages/list', { launch_id })).data;
          if (m.status !== 'captured') return false;
        }
        return true;
      },
      30_000,
      'every message captured',
    );
    await eventually(async () => heapUsed() < baseline + 10 * MB, 30_000, `heap back within 10 MB of its baseline (${(baseline / MB).toFixed(1)} MB)`);
  });

  it('keeps the parsed-template cache bounded: 40 large templates added and rendered', async () => {
    // A dense ~900 KB template parses to ~20 MB; unbounded, 40 of them held 865 MB.
    const baseline = heapUsed();
    const dense = '{lead._fname}'.repeat(900_000 / 13);
    for (let i = 0; i < 40; i++) {
      const template = ok(await s.call('templates/add', { name: `dense ${i}`, channels: [{ sid: 'email', fields: { subject: `dense ${i}`, text: `${i}${dense}` } }] })).data.id;
      if (i % 8 === 0) {
        // Rendering puts it in the cache.
        const campaign = await addCampaign(s, { name: `dense ${i}`, db: shop.db, resource: shop.resource, template });
        ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com' }));
      }
    }
    await eventually(async () => {
      const list = ok(await s.call('messages/list', { status: 'queued' })).data;
      return list.length === 0;
    }, 30_000, 'the dense messages rendered');
    const grown = (heapUsed() - baseline) / MB;
    assert.ok(grown < 120, `the heap grew ${grown.toFixed(0)} MB`);
  });
});

describe('memory: the cache', () => {
  it('is bounded by entries, by weight, and lets go of expired entries on its own', async () => {
    const c = new Cache<number, string>({ ttlMs: 200, maxEntries: 5, maxWeight: 100, weigh: (v) => v.length });
    for (let i = 0; i < 20; i++) await c.get(i, async () => 'x');
    assert.equal(c.size, 5, 'entries');
    for (let i = 0; i < 20; i++) await c.get(100 + i, async () => 'y'.repeat(30));
    assert.ok(c.totalWeight <= 100, `weight ${c.totalWeight}`);
    await c.get(999, async () => 'z'.repeat(101));
    assert.ok(c.totalWeight <= 100, 'a value heavier than the whole cache is not kept');
    await eventually(async () => c.size === 0 && c.totalWeight === 0, 5000, 'expired entries swept');
  });

  it("keeps the launch cache's bytes bounded", () => {
    assert.ok(LAUNCH_CACHE_BYTES <= 64 * MB);
  });
});
