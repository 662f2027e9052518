/**
 * Issue 8, items 9 and 11 (HTTP parts): links that resolve to nothing write nothing; NUL characters
 * are refused the same way on both stores; a non-string token is a wrong token (403); a repeat of a
 * request whose process died runs instead of waiting for an answer that never comes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ENV_TOKEN_NAME } from '../../src/engine/tokens.ts';
import { ok, startServer, STORE_KINDS, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { setupShop, type Shop } from '../fixture.ts';
import { assertTiming } from '../timing.ts';

const NUL_TEXT = 'must not contain the NUL character (\\u0000)';

for (const kind of STORE_KINDS) {
  describe(`bad input on ${kind}`, () => {
    let s: TestServer;
    let shop: Shop;
    let link: string;

    before(async () => {
      s = await startServer({ kind });
      shop = await setupShop(s);
      link = ok(await s.call('campaigns/triggers/get', { id: shop.campaigns.email })).data.call_url.replace(/^https?:\/\/[^/]+/, s.url);
    });
    after(() => s.close());

    /** Deduplication rows, counted through the store: purging with a far future deletes (and counts) them all. */
    const dedupRows = () => s.app.store.purgeDedup(Number.MAX_SAFE_INTEGER);

    it('writes no deduplication row for links that name no campaign, with or without a body', async () => {
      await dedupRows();
      const answers = await Promise.all(
        Array.from({ length: 300 }, async (_, i) => {
          const key = i % 3 === 0 ? `nope${i}` : randomBytes(16).toString('hex');
          const r = await fetch(`${s.url}/trg/${key}/a@b.c`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ content: { i } }) });
          return r.status;
        }),
      );
      assert.deepEqual(new Set(answers), new Set([404]));
      const get = await fetch(`${s.url}/trg/${randomBytes(16).toString('hex')}/a@b.c`, { headers: { 'request-id': 'random-get' } });
      assert.equal(get.status, 404);
      assert.equal(await dedupRows(), 0, 'no rows');

      // A link that resolves is deduplicated as before.
      const real = await fetch(`${link}john@example.com`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      assert.equal(real.status, 200);
      assert.equal(await dedupRows(), 1);
    });

    it('answers 400 naming the field to a NUL character, in bodies, keys, query strings and paths', async () => {
      const cases: [string, Record<string, unknown>, string][] = [
        ['databases/add', { name: 'a\u0000b', fields: [] }, `field 'name' ${NUL_TEXT}`],
        ['profiles/get', { db_id: shop.db, email: 'john\u0000@example.com' }, `field 'email' ${NUL_TEXT}`],
        ['campaigns/triggers/start', { id: shop.campaigns.email, custom_request: { email: { $in: ['x\u0000'] } } }, `field 'custom_request.email.$in[0]' ${NUL_TEXT}`],
        ['campaigns/triggers/start', { id: shop.campaigns.push, matching: 'push_sub', subscription_id: 'CAREFUL\u0000' }, `field 'subscription_id' ${NUL_TEXT}`],
        ['campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { 'k\u0000': 1 } }, `field names in 'content' ${NUL_TEXT}`],
      ];
      for (const [method, body, text] of cases) {
        const r = await s.call(method, body);
        assert.equal(r.status, 400, `${method} ${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
        assert.deepEqual(r.body, { error: 400, error_text: text, data: null });
      }
      const inQuery = await fetch(`${link}john@example.com?token=a%00b`);
      assert.equal(inQuery.status, 400);
      assert.equal((await inQuery.json()).error_text, `'token' in the query string ${NUL_TEXT}`);
      const inPath = await fetch(`${link}john%00@example.com`);
      assert.equal(inPath.status, 400);
      assert.equal((await inPath.json()).error_text, `'who' in the path ${NUL_TEXT}`);
      assert.equal(ok(await s.call('databases/list', {})).data.length, 1, 'nothing was added');
    });

    it('answers 403 to a token that is not a string', async () => {
      for (const token of [12345, ['x'], { t: TEST_TOKEN }, true]) {
        const r = await s.call('databases/list', { token });
        assert.equal(r.status, 403, JSON.stringify(token));
        assert.equal(r.body.error, 403);
      }
      const twice = await fetch(`${link}john@example.com?token=x&token=${TEST_TOKEN}`);
      assert.equal(twice.status, 403);
      assert.equal((await s.call('databases/list', { token: undefined })).status, 401, 'no token at all is still 401');
    });

    it('runs a repeat at once when the request holding its key died with its process', async () => {
      const body = { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'after crash' } };
      // What a process killed in the middle of the request left: a pending claim it renewed last 20 s ago.
      const lastSign = Date.now() - 20_000;
      assert.deepEqual(await s.app.store.claimDedup(ENV_TOKEN_NAME, 'crashed-1', lastSign, lastSign + 3_600_000, 0), { claimed: true });
      const started = Date.now();
      const r = await s.call('campaigns/triggers/start', body, { headers: { 'request-id': 'crashed-1' } });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      // Promptly: not after the 15 s a live claim is waited for.
      assertTiming('a repeat of a crashed claim', Date.now() - started, { targetMs: 500, boundMs: 5000 });
      assert.equal(r.headers.get('duplicate-request'), null, 'it ran');
      assert.ok(Number(r.headers.get('launch-id')) > 0);
      const again = await s.call('campaigns/triggers/start', body, { headers: { 'request-id': 'crashed-1' } });
      assert.equal(again.headers.get('duplicate-request'), 'true', 'and its answer is kept for the next repeat');
      assert.equal(again.headers.get('launch-id'), r.headers.get('launch-id'));
    });

    if (kind === 'sqlite') {
      it('on SQLite, runs a repeat at once when the claim is from before this process started', async () => {
        const before = Date.now() - 1;
        const t = await s.restart(); // this process starts after the claim was last renewed
        s = t;
        assert.deepEqual(await s.app.store.claimDedup(ENV_TOKEN_NAME, 'crashed-2', before, before + 3_600_000, 0), { claimed: true });
        const started = Date.now();
        const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'bob@example.com' }, { headers: { 'request-id': 'crashed-2' } });
        assert.equal(r.status, 200, JSON.stringify(r.body));
        // Promptly: not after the 15 s a live claim is waited for.
      assertTiming('a repeat of a crashed claim', Date.now() - started, { targetMs: 500, boundMs: 5000 });
        assert.equal(r.headers.get('duplicate-request'), null);
      });
    }
  });
}
