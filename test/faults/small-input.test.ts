/**
 * Issue 24, item 6: attachment names that are not plain text (bytes that are not UTF-8, a lone UTF-16
 * surrogate, a right-to-left override) are refused with 400 naming the problem; `custom_request: null`
 * is taken as absent; /docs cannot be framed by another site.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { setupShop, type Shop } from '../fixture.ts';

const DATA = `data:text/plain;base64,${Buffer.from('hello').toString('base64')}`;

describe('small hostile inputs', () => {
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    s = await startServer();
    shop = await setupShop(s);
  });
  after(() => s.close());

  /** campaigns/triggers/start with this raw JSON body (bytes as given), the token in the header. */
  const startRaw = async (body: Buffer) => {
    const r = await fetch(`${s.url}/api/v1.1/campaigns/triggers/start`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}` },
      body: new Uint8Array(body),
    });
    return { status: r.status, body: (await r.json()) as { error: number; error_text: string } };
  };
  const withName = (nameJson: Buffer) =>
    Buffer.concat([Buffer.from(`{"id": ${shop.campaigns.email}, "email": "john@example.com", "attach": [{"data": "${DATA}", "name": "`), nameJson, Buffer.from('"}]}')]);

  it('refuses an attachment name with bytes that are not UTF-8, naming the problem', async () => {
    const r = await startRaw(withName(Buffer.from([0x72, 0x65, 0xff, 0xfe, 0x2e, 0x74, 0x78, 0x74])));
    assert.equal(r.status, 400, JSON.stringify(r.body));
    assert.match(r.body.error_text, /attach\[0\]\.name is not valid UTF-8/);
  });

  it('refuses a lone surrogate and a right-to-left override in an attachment name', async () => {
    const lone = await startRaw(withName(Buffer.from('report\\ud800.txt')));
    assert.equal(lone.status, 400, JSON.stringify(lone.body));
    assert.match(lone.body.error_text, /attach\[0\]\.name holds a lone UTF-16 surrogate/);
    const rtl = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', attach: [{ data: DATA, name: 'invoice\u202Egpj.exe' }] });
    assert.equal(rtl.status, 400, JSON.stringify(rtl.body));
    assert.match(rtl.body.error_text, /attach\[0\]\.name holds the text-direction control U\+202E/);
    // A name in another script, with a proper pair (an emoji), is fine.
    ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', attach: [{ data: DATA, name: 'счёт 📄.txt' }] }));
  });

  it('takes custom_request: null as absent (matching decides)', async () => {
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', custom_request: null });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.error, 0);
    assert.ok(r.headers.get('launch-id'));
  });

  it('sends anti-framing headers with /docs and its assets', async () => {
    for (const path of ['/docs', '/docs/', '/docs/static/index.html']) {
      const r = await fetch(`${s.url}${path}`, { redirect: 'manual' });
      await r.arrayBuffer();
      assert.equal(r.headers.get('x-frame-options'), 'DENY', path);
      assert.match(r.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/, path);
    }
  });
});
