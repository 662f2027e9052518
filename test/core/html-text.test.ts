/**
 * The text part made from a mail's HTML (core/html-text.ts): links as `text [URL]`, images dropped,
 * lines wrapped at 78; HTML past MAX_HTML_FOR_TEXT gets none, and the worst shapes up to it convert
 * in bounded time (deep nesting grows faster than linearly: unbounded, 200,000 nested tags took 27 s).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HTML_FOR_TEXT, textOfHtml } from '../../src/core/html-text.ts';

/** `unit` repeated to just under the bound. */
const upToBound = (unit: string) => unit.repeat(Math.floor(MAX_HTML_FOR_TEXT / unit.length));

describe('the text part of an HTML mail', () => {
  it('keeps links as URLs, drops images, wraps at 78', () => {
    const words = Array.from({ length: 40 }, (_, i) => `word${i}`).join(' ');
    const text = textOfHtml(`<h1>Sale</h1><p>See <a href="https://shop.example/sale?id=1">the sale</a>.<img src="https://shop.example/logo.png" alt="Logo"></p><p>${words}</p>`)!;
    assert.match(text, /^SALE\n\nSee the sale \[https:\/\/shop\.example\/sale\?id=1\]\.\n\nword0 /);
    assert.doesNotMatch(text, /logo/i);
    for (const line of text.split('\n')) assert.ok(line.length <= 78, `a line of ${line.length}: ${line}`);
  });

  it('gives no text past MAX_HTML_FOR_TEXT', () => {
    assert.equal(textOfHtml('<p>x</p>'.repeat(MAX_HTML_FOR_TEXT / 8 + 1)), undefined);
  });

  it('converts the worst shapes up to the bound in bounded time', (t) => {
    const shapes = {
      paragraphs: upToBound('<p>Some words with <a href="https://shop.example/p/1">a link</a> and <b>bold</b>.</p>\n'),
      'inline tags': upToBound('<span>x</span>'),
      'nested tables': upToBound('<table><tr><td>'),
      'nested divs': upToBound('<div>'),
    };
    for (const [name, html] of Object.entries(shapes)) {
      const started = performance.now();
      textOfHtml(html);
      const ms = performance.now() - started;
      t.diagnostic(`${name}: ${html.length} characters in ${ms.toFixed(0)} ms`);
      // Measured: under 150 ms warm, under 800 ms on a first run; the bound leaves room for a slow CI machine.
      assert.ok(ms < 3000, `${name} took ${ms.toFixed(0)} ms`);
    }
  });
});
