/**
 * ReDoS (issue 8, item 3): a content_filter `^((a+))+$` over 31 characters of content froze the
 * process for 17.8 s. User regexes now run on RE2: the patterns that backtrack for ever answer at
 * once and correctly, through the real API, on both stores.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';
import { addProfile, setupShop, shopCampaign, type Shop } from '../fixture.ts';
import { assertTiming } from '../timing.ts';

const LONG = 10_000;
/** Pattern, a long value it matches, a long value it does not. */
const CASES: [string, string, string][] = [
  ['^((a+))+$', 'a'.repeat(LONG), 'a'.repeat(LONG) + '!'],
  ['^(?:(a+))+$', 'a'.repeat(LONG), 'a'.repeat(LONG) + '!'],
  ['^(a|a)*$', 'a'.repeat(LONG), 'a'.repeat(LONG) + '!'],
  ['^(a*)*$', 'a'.repeat(LONG), 'a'.repeat(LONG) + '!'],
  ['(a*)*b', 'a'.repeat(LONG) + 'b', 'a'.repeat(LONG)],
  ['(x+x+)+y', 'x'.repeat(LONG) + 'y', 'x'.repeat(LONG)],
  ['^(\\w+\\s?)*$', 'word '.repeat(LONG / 5).trim(), 'word '.repeat(LONG / 5) + '!'],
];

for (const kind of STORE_KINDS) {
  describe(`ReDoS patterns through the API on ${kind}`, () => {
    let s: TestServer;
    let shop: Shop;
    const stall = monitorEventLoopDelay({ resolution: 10 });

    before(async () => {
      s = await startServer({ kind });
      shop = await setupShop(s);
      stall.enable();
    });
    after(async () => {
      stall.disable();
      await s.close();
    });

    /** Starts a trigger and answers the response and how long it took. */
    const start = async (body: Record<string, unknown>) => {
      const started = Date.now();
      const r = await s.call('campaigns/triggers/start', body);
      return { ...r, ms: Date.now() - started, launch: Number(r.headers.get('launch-id')) };
    };

    it('content_filter: matches and misses at once, and the log says which', async () => {
      for (const [pattern, hit, miss] of CASES) {
        const campaign = await shopCampaign(s, shop, `filter ${pattern}`, { extra: { content_filter: { body: { $regex: pattern } } } });
        const yes = await start({ id: campaign, email: 'john@example.com', content: { body: hit, email_title: 't' } });
        assert.equal(yes.status, 200, JSON.stringify(yes.body));
        assertTiming(`${pattern}: a match`, yes.ms, { targetMs: 200, boundMs: 5000 });
        const no = await start({ id: campaign, email: 'john@example.com', content: { body: miss, email_title: 't' } });
        assert.equal(no.status, 200, JSON.stringify(no.body));
        assertTiming(`${pattern}: a miss`, no.ms, { targetMs: 200, boundMs: 5000 });
        const log = ok(await s.call('campaigns/log_v2', { id: campaign })).data;
        assert.equal(log[0].message, `launch ${no.launch} (start): content does not match the campaign's content_filter; nothing sent`);
        assert.notEqual(log[1]?.message, `launch ${yes.launch} (start): content does not match the campaign's content_filter; nothing sent`);
        assert.deepEqual(ok(await s.call('messages/list', { launch_id: yes.launch })).data.length, 1, `${pattern} should have matched`);
      }
    });

    it('custom_request: picks exactly the profiles whose long value matches', async () => {
      for (const [i, [pattern, hit, miss]] of CASES.entries()) {
        const hitEmail = `hit${i}-${kind}@example.com`;
        await addProfile(s, shop.db, { email: hitEmail, Segment: hit, subscriptions: [{ resource_id: shop.resource, channel: 'email', email: hitEmail }] });
        const missEmail = `miss${i}-${kind}@example.com`;
        await addProfile(s, shop.db, { email: missEmail, Segment: miss, subscriptions: [{ resource_id: shop.resource, channel: 'email', email: missEmail }] });
        const r = await start({ id: shop.campaigns.email, custom_request: { email: { $in: [hitEmail, missEmail] }, Segment: { $regex: pattern } }, content: { email_title: 't' } });
        assert.equal(r.status, 200, `${pattern}: ${JSON.stringify(r.body)}`);
        assertTiming(`${pattern}: custom_request`, r.ms, { targetMs: 200, boundMs: 5000 });
        const messages = ok(await s.call('messages/list', { launch_id: r.launch })).data;
        assert.deepEqual(messages.map((m: { address: string }) => m.address), [hitEmail], pattern);
      }
    });

    it('refuses what RE2 cannot run with a 400 naming the field, and stays up', async () => {
      const r = await start({ id: shop.campaigns.email, custom_request: { Segment: { $regex: '^(a)\\1$' } } });
      assert.equal(r.status, 400);
      assert.match(r.body.error_text, /^custom_request\.Segment\.\$regex: not a valid RE2 regular expression .*RE2 syntax is required/);
      const add = await s.call('campaigns/triggers/add', {
        name: 'lookahead', trigger_type: 'api_call', send_channel: 'email', resource_id: shop.resource, db_id: shop.db,
        content: [{ message_id: ok(await s.call('templates/list')).data[0].id }], content_filter: { kind: { $regex: 'a(?=b)' } },
      });
      assert.equal(add.status, 400);
      assert.match(add.body.error_text, /^content_filter\.kind\.\$regex: not a valid RE2 regular expression/);
      ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'still here' } }));
    });

    it('accepts $options "x" as documented', async () => {
      const r = await start({ id: shop.campaigns.email, custom_request: { email: { $regex: '^ john @ example \\. com $  # the one', $options: 'x' } } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const messages = ok(await s.call('messages/list', { launch_id: r.launch })).data;
      assert.deepEqual(messages.map((m: { address: string }) => m.address), ['john@example.com']);
    });

    it('never stalled the event loop for a second', () => {
      assertTiming('worst event-loop stall', stall.max / 1e6, { targetMs: 200, boundMs: 2000 });
    });
  });
}
