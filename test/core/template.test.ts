import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TemplateSyntaxError } from '../../src/core/template/ast.ts';
import { parseTemplate } from '../../src/core/template/parse.ts';
import { renderTemplate, type RenderContext } from '../../src/core/template/render.ts';

const ctx: RenderContext = {
  lead: { _id: 'abc', email: 'john@example.com', _fname: 'John', orders: 3, tags: ['vip', 'new'], empty: '' },
  apicontent: {
    email_title: 'New videos on your favorite channels',
    data_lines: ['Channel A', 'Channel B'],
    order: { id: 'A-1', items: [{ name: 'Pen', qty: 2 }, { name: 'Ink', qty: 1 }] },
    html: '<b>bold</b> & "quoted"',
  },
  subscription: { channel: 'email', email: 'john@example.com' },
  subscriptions: [
    { channel: 'email', email: 'john@example.com' },
    { channel: 'sms', phone: '+79000000000' },
  ],
};

const render = (src: string, html = false) => renderTemplate(parseTemplate(src), ctx, { html });

function syntaxError(src: string): TemplateSyntaxError {
  try {
    parseTemplate(src);
  } catch (e) {
    if (e instanceof TemplateSyntaxError) return e;
    throw e;
  }
  throw new Error(`expected a syntax error for ${JSON.stringify(src)}`);
}

describe('template language', () => {
  it('prints profile fields, content paths and subscription fields', () => {
    assert.equal(render('Hi {lead._fname} <{lead.email}>'), 'Hi John <john@example.com>');
    assert.equal(render('{apicontent.email_title}'), 'New videos on your favorite channels');
    assert.equal(render('{apicontent.order.items.1.name}'), 'Ink');
    assert.equal(render('{subscription.email}'), 'john@example.com');
    assert.equal(render('{subscription_field("sms" "phone")}'), '+79000000000');
    assert.equal(render('{lead.tags}'), 'vip, new');
  });

  it('renders an unknown variable empty', () => {
    assert.equal(render('[{lead.nope}][{apicontent.a.b.c}]'), '[][]');
  });

  it('leaves braces that open no tag alone (CSS, JSON)', () => {
    const css = 'body { color: red } a{color:blue} {"k": 1} {1}';
    assert.equal(render(css), css);
  });

  it('escapes values in HTML bodies only', () => {
    assert.equal(render('<p>{apicontent.html}</p>', true), '<p>&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;</p>');
    assert.equal(render('{apicontent.html}'), '<b>bold</b> & "quoted"');
  });

  it('evaluates conditions with and, or, not, equal, contains, in and parentheses', () => {
    assert.equal(render('{if lead._fname}yes{else}no{end}'), 'yes');
    assert.equal(render('{if lead.empty}yes{else}no{end}'), 'no');
    assert.equal(render('{if lead.orders equal 3}three{end}'), 'three');
    assert.equal(render('{if lead.orders equal "3"}loose{end}'), 'loose');
    assert.equal(render('{if lead.tags contains "vip"}vip{end}'), 'vip');
    assert.equal(render('{if "new" in lead.tags}new{end}'), 'new');
    assert.equal(render('{if not lead.missing}absent{end}'), 'absent');
    assert.equal(render('{if lead._fname and (lead.orders equal 3 and lead.tags contains "new")}all{end}'), 'all');
    assert.equal(render('{if lead.missing or lead._fname equal "John"}either{end}'), 'either');
    assert.equal(render('{if not lead._fname equal "Bob"}not bob{end}'), 'not bob');
  });

  it('loops over lists and objects, nested, with keys', () => {
    assert.equal(render('{for line in apicontent.data_lines}<{line}>{end}'), '<Channel A><Channel B>');
    assert.equal(render('{for i, line in apicontent.data_lines}{i}={line};{end}'), '0=Channel A;1=Channel B;');
    assert.equal(render('{for k, v in apicontent.order}{if k equal "id"}{v}{end}{end}'), 'A-1');
    assert.equal(
      render('{for item in apicontent.order.items}{item.name} x{item.qty}{if item.qty equal 2} (pair){end}; {end}'),
      'Pen x2 (pair); Ink x1; ',
    );
    assert.equal(render('{for x in apicontent.nothing}never{end}'), '');
    assert.equal(render('{for a in apicontent.data_lines}{for b in lead.tags}{a}/{b} {end}{end}'), 'Channel A/vip Channel A/new Channel B/vip Channel B/new ');
  });

  it('reads content with jsonpath', () => {
    assert.equal(render('{jsonpath(apicontent "$.order.items[0].name" "item")}'), 'Pen');
    assert.equal(render('{jsonpath(apicontent "$..name" "array")}'), 'Pen, Ink');
    assert.equal(render('{jsonpath(apicontent "$.order.items[-1].qty")}'), '1');
  });

  it('chooses the first true branch of an {else if} chain', () => {
    const tpl = '{if lead.orders equal 1}one{else if lead.orders equal 3}three{else if lead._fname}named{else}other{end}';
    assert.equal(render(tpl), 'three');
    assert.equal(render('{if lead.empty}a{else if lead.missing}b{else}c{end}'), 'c');
    assert.equal(render('{if lead.empty}a{else if lead._fname}b{end}!'), 'b!');
    assert.equal(render('{if lead.empty}a{else if lead.missing}b{end}!'), '!');
    // nested blocks inside a branch close on their own {end}
    assert.equal(render('{if lead.empty}a{else if lead.tags}{for t in lead.tags}[{t}]{end}{else}c{end}'), '[vip][new]');
  });

  it('refuses an {else if} that is misplaced or has no condition', () => {
    assert.match(syntaxError('x{else if lead.a}y').message, /\{else if\} without an open \{if\}/);
    assert.match(syntaxError('{if lead.a}x{else}y{else if lead.b}z{end}').message, /\{else if\} without an open \{if\}/);
    assert.match(syntaxError('{if lead.a}x{else if}y{end}').message, /needs a condition/);
    assert.match(syntaxError('{if lead.a}x{else if lead.b}y').message, /not closed with \{end\}/);
    const chain = `{if lead.a}0${Array.from({ length: 150 }, (_, i) => `{else if lead.a${i}}${i}`).join('')}{end}`;
    assert.match(syntaxError(chain).message, /nested deeper than 100 levels/);
  });

  it('reports the line and column of a syntax error', () => {
    let e = syntaxError('line one\n  {if lead.x}open');
    assert.deepEqual([e.line, e.column], [2, 3]);
    assert.match(e.message, /not closed with \{end\}/);
    e = syntaxError('{end}');
    assert.match(e.message, /without an open/);
    e = syntaxError('ok\n{else}');
    assert.deepEqual([e.line, e.column], [2, 1]);
    e = syntaxError('{if a and b and c}x{end}');
    assert.match(e.message, /more than two operands need parentheses/);
    e = syntaxError('{lead.name');
    assert.match(e.message, /not closed with \}/);
    e = syntaxError('{if lead.a equal}x{end}');
    assert.match(e.message, /expected a value/);
    e = syntaxError('{for lead in apicontent.x}{end}');
    assert.match(e.message, /cannot be a loop variable/);
    e = syntaxError('{subscription_field("sms")}');
    assert.match(e.message, /takes 2 arguments/);
    e = syntaxError('x {lead.a.} y');
    assert.deepEqual([e.line, e.column], [1, 10]);
  });

  it('keeps loop variables inside their loop', () => {
    assert.equal(render('{for x in apicontent.data_lines}{end}{x}'), '{x}');
  });
});
