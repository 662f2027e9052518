/**
 * Render bounds (issue 8, item 6): nested loops over 2,000 items blocked 1.2 s, a loop over 1e6 items
 * 2.9 s at 762 MB, and `$..a..a..a..a..a..a..a..a` over content nested 30 deep ran a thread out of
 * memory. Each now stops quickly with a RenderLimitError naming the limit.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderMessage } from '../../src/core/message.ts';
import { parseTemplate } from '../../src/core/template/parse.ts';
import { RENDER_LIMITS, RenderLimitError, renderTemplate, type RenderContext } from '../../src/core/template/render.ts';
import type { Campaign, Resource, Subscription, Template } from '../../src/core/types.ts';
import { assertTiming } from '../timing.ts';

const context = (apicontent: unknown): RenderContext => ({ lead: { _fname: 'Ann' }, apicontent, subscription: null, subscriptions: [] });

/** Renders and answers how long it took; `error` is the RenderLimitError's text, if any. */
function timed(src: string, apicontent: unknown, o: Parameters<typeof renderTemplate>[2] = {}): { ms: number; error?: string; out?: string } {
  const nodes = parseTemplate(src);
  const started = performance.now();
  try {
    const out = renderTemplate(nodes, context(apicontent), o);
    return { ms: performance.now() - started, out };
  } catch (e) {
    if (!(e instanceof RenderLimitError)) throw e;
    return { ms: performance.now() - started, error: e.message };
  }
}

const STEPS = `template takes more than ${RENDER_LIMITS.steps} steps (loops, jsonpath and comparisons)`;
const OUTPUT = 'template output exceeds 1 MB (1048576 characters)';

let deep: Record<string, unknown> = { a: 'leaf' };
for (let i = 0; i < 30; i++) deep = { a: deep, b: [deep], c: { a: deep } };

describe('render limits', () => {
  it('stops a loop over a million items', (t) => {
    const r = timed('{for x in apicontent.items}{x},{end}', { items: Array.from({ length: 1_000_000 }, (_, i) => i) });
    t.diagnostic(`loop over 1e6 items stopped after ${r.ms.toFixed(1)} ms`);
    assert.equal(r.error, STEPS);
    assertTiming('a bounded render', r.ms, { targetMs: 200, boundMs: 3000 });
  });

  it('stops nested loops over 2,000 items', (t) => {
    const items = Array.from({ length: 2000 }, (_, i) => `item ${i} <&>`);
    for (const html of [false, true]) {
      const r = timed('{for a in apicontent.items}{for b in apicontent.items}<p>{a}/{b}</p>{end}{end}', { items }, { html });
      t.diagnostic(`nested loops (html ${html}) stopped after ${r.ms.toFixed(1)} ms`);
      assert.equal(r.error, STEPS);
      assertTiming('a bounded render', r.ms, { targetMs: 200, boundMs: 3000 });
    }
  });

  it('stops the jsonpath bomb over content nested 30 deep', (t) => {
    const r = timed('{jsonpath(apicontent "$..a..a..a..a..a..a..a..a" "array")}', deep);
    t.diagnostic(`jsonpath bomb stopped after ${r.ms.toFixed(1)} ms`);
    assert.equal(r.error, STEPS);
    assertTiming('a bounded render', r.ms, { targetMs: 200, boundMs: 3000 });
    // A recursive descent over content nested far deeper than the stack is walked without recursion.
    let chain: Record<string, unknown> = { a: 'bottom' };
    for (let i = 0; i < 20_000; i++) chain = { n: chain };
    assert.equal(timed('{jsonpath(apicontent "$..a")}', chain).out, 'bottom');
  });

  it('counts comparisons over long lists', () => {
    const items = Array.from({ length: 5000 }, (_, i) => i);
    assert.equal(timed('{for x in apicontent.items}{if x in apicontent.items}+{end}{end}', { items }).error, STEPS);
  });

  it('stops output past 1 MB, plain and HTML-escaped', (t) => {
    assert.equal(timed('{apicontent.big}', { big: 'x'.repeat(1_100_000) }).error, OUTPUT);
    const r = timed('{apicontent.big}', { big: '<'.repeat(1_000_000) }, { html: true });
    t.diagnostic(`1 MB of '<' escaped to the limit in ${r.ms.toFixed(1)} ms`);
    assert.equal(r.error, OUTPUT);
    assert.equal(timed('{apicontent.big}', { big: 'x'.repeat(1_000_000) }).out?.length, 1_000_000);
  });

  it('takes its limits as parameters', () => {
    assert.equal(timed('{for x in apicontent.items}{x}{end}', { items: [1, 2, 3] }, { limits: { steps: 5, outputChars: 100 } }).error, 'template takes more than 5 steps (loops, jsonpath and comparisons)');
    assert.equal(timed('{apicontent.s}', { s: 'abcdef' }, { limits: { steps: 100, outputChars: 5 } }).error, 'template output exceeds 5 characters');
    assert.equal(timed('{for x in apicontent.items}{x}{end}', { items: [1, 2, 3] }).out, '123');
  });

  it('shares one step budget across the fields of a message', () => {
    const loop = (n: number) => `{for x in apicontent.items}{if x equal ${n}}!{end}{end}`;
    const template: Template = { id: 1, name: 't', channels: { email: { subject: loop(1), html: loop(2), text: loop(3) } }, created_at: 0, updated_at: 0 };
    const campaign = { id: 1, send_channel: 'email', content: [] } as unknown as Campaign;
    const resource = { email: { from_email: 'news@shop.example' } } as unknown as Resource;
    const to = { address: 'ann@example.com' } as Subscription;
    // Each field takes about 3 steps per item; 3 fields over 2,000 items is ~18,000 steps.
    const ctx = context({ items: Array.from({ length: 2000 }, (_, i) => i) });
    const limits = { steps: 10_000, outputChars: RENDER_LIMITS.outputChars };
    const one = { ...template, channels: { email: { subject: 'hi', html: loop(2) } } };
    assert.equal((renderMessage(one, { message_id: 1 }, campaign, resource, to, ctx, limits) as { html: string }).html, '!');
    assert.throws(() => renderMessage(template, { message_id: 1 }, campaign, resource, to, ctx, limits), (e: unknown) => e instanceof RenderLimitError && e.message === 'template takes more than 10000 steps (loops, jsonpath and comparisons)');
    assert.equal(renderMessage(template, { message_id: 1 }, campaign, resource, to, ctx).channel, 'email');
  });
});
