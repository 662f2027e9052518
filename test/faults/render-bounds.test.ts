/**
 * Rendering is bounded: a template whose loops multiply over the request's content (nested loops
 * over 2,000 items, a loop over 500,000, a jsonpath descent over deep content) ends its message
 * failed with a reason naming the limit, and never holds the event loop (HTTP keeps answering).
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, type TestServer } from '../helpers.ts';
import { shopCampaign, startShop, stopShop, type Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';
import { assertTiming } from '../timing.ts';

const nested = (depth: number): unknown => (depth === 0 ? { a: 1 } : { a: nested(depth - 1), b: [nested(depth - 1)] });

const big = Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, `v${i}`])); // ~350 KB
const list = Array.from({ length: 2000 }, (_, i) => i);

const CASES = [
  { name: 'a 350 KB object compared on each of 2,000 turns', html: '{for x in apicontent.list}{if apicontent.big equal x}y{end}{end}', content: { big, list }, reason: /steps/ },
  { name: 'nested loops over 2,000 items', html: '{for x in apicontent.xs}{for y in apicontent.xs}{x}{y}{end}{end}', content: { xs: Array.from({ length: 2000 }, (_, i) => i) }, reason: /steps/ },
  { name: 'a loop over 500,000 items', html: '{for x in apicontent.xs}{x}{end}', content: { xs: Array.from({ length: 500_000 }, () => 1) }, reason: /steps/ },
  { name: 'a jsonpath descent over content nested 10 deep', html: '{jsonpath(apicontent "$..a..a..a..a..a..a..a..a" "array")}', content: nested(10), reason: /steps|output/ },
  { name: 'output over 1 MB', html: '{for x in apicontent.xs}{apicontent.s}{end}', content: { xs: [1, 2, 3], s: 'x'.repeat(400_000) }, reason: /output exceeds 1 MB/ },
];

describe('templates whose rendering would run away', () => {
  let smtp: TestSmtp;
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    ({ s, smtp, shop } = await startShop());
  });
  after(() => stopShop(s, smtp));

  for (const c of CASES) {
    it(`fails the message for ${c.name}, naming the limit, without holding the server`, async () => {
      const campaign = await shopCampaign(s, shop, c.name, { email: { subject: 'runaway', html: c.html } });
      const stall = monitorEventLoopDelay({ resolution: 10 });
      stall.enable();
      ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com', content: c.content }));
      const m = await eventually(async () => {
        const [row] = ok(await s.call('messages/list', { campaign_id: campaign })).data;
        return row?.status === 'failed' && row;
      }, 15_000, 'the message to fail');
      stall.disable();
      assert.match(m.last_error, /^rendering failed: template/);
      assert.match(m.last_error, c.reason);
      assert.equal(m.attempts, 1, 'a render limit is final: no retry');
      // Generous against a loaded CI machine; an unbounded render of these takes seconds.
      assertTiming(`event-loop stall rendering ${c.name}`, stall.max / 1e6, { targetMs: 200, boundMs: 1500 });
    });
  }

  it('sends a loop that tests a 350 KB object on each of 2,000 turns, quickly', async () => {
    const campaign = await shopCampaign(s, shop, 'truthy', { email: { subject: 'truthy big', html: '{for x in apicontent.list}{if apicontent.big}y{end}{end}' } });
    const stall = monitorEventLoopDelay({ resolution: 10 });
    stall.enable();
    ok(await s.call('campaigns/triggers/start', { id: campaign, email: 'john@example.com', content: { big, list } }));
    const [mail] = await smtp.waitFor(1);
    stall.disable();
    const html = String(smtp.received.find((r) => r.mail.subject === 'truthy big')?.mail.html ?? '');
    assert.equal(html.replace(/\s/g, ''), 'y'.repeat(2000));
    assert.ok(mail);
    assertTiming('event-loop stall rendering the 2,000-turn loop', stall.max / 1e6, { targetMs: 200, boundMs: 1500 });
  });
});
