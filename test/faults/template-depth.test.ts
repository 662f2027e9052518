/**
 * Template parse depth (issue 8, item 7): templates/add answered 500 (a stack overflow) for 20,000
 * nested {if}, 30,000 nested {for}, 5,000 parentheses and 50,000 `not`. Now a 400 with the line and
 * column where nesting passes the limit; the server stays up and the next request works.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ok, startServer, STORE_KINDS, type TestServer } from '../helpers.ts';

const nest = (open: string, close: string, n: number, inner = 'x') => open.repeat(n) + inner + close.repeat(n);

const CASES: { what: string; html: string; error: string }[] = [
  // Each opening tag is 11 characters: the 101st starts at column 1101.
  { what: '20,000 nested {if}', html: nest('{if lead.a}', '{end}', 20_000), error: 'line 1, column 1101: {if} and {for} are nested deeper than 100 levels' },
  { what: '30,000 nested {for}', html: nest('{for x in lead.a}\n', '{end}', 30_000), error: 'line 101, column 1: {if} and {for} are nested deeper than 100 levels' },
  { what: '5,000 parentheses', html: `{if ${nest('(', ')', 5_000, 'lead.a')}}yes{end}`, error: 'line 1, column 105: expression is nested deeper than 100 levels (parentheses, not, calls)' },
  { what: '50,000 not', html: `{if ${'not '.repeat(50_000)}lead.a}yes{end}`, error: 'line 1, column 405: expression is nested deeper than 100 levels (parentheses, not, calls)' },
  { what: '1,000 nested calls', html: `{${nest('jsonpath(', ' "$")', 1_000, 'apicontent')}}`, error: 'line 1, column 911: expression is nested deeper than 100 levels (parentheses, not, calls)' },
];

for (const kind of STORE_KINDS) {
  describe(`template nesting limits through templates/add on ${kind}`, () => {
    let s: TestServer;
    before(async () => {
      s = await startServer({ kind });
    });
    after(() => s.close());

    let n = 0;
    const add = (html: string) => s.call('templates/add', { name: `deep ${++n}`, channels: [{ sid: 'email', fields: { subject: 'Hi', html } }] });

    for (const c of CASES) {
      it(`refuses ${c.what} with 400 and the position, and keeps serving`, async () => {
        const r = await add(c.html);
        assert.equal(r.status, 400, JSON.stringify(r.body).slice(0, 300));
        assert.equal(r.body.error_text, `template email.html: ${c.error}`);
        ok(await add('<p>{if lead.a}fine{end}</p>'));
      });
    }

    it('accepts nesting up to the limit', async () => {
      ok(await add(nest('{if lead.a}', '{end}', 100)));
      ok(await add(`{if ${nest('(', ')', 98, 'lead.a')}}yes{end}`));
      ok(await add(`{if ${'not '.repeat(98)}lead.a}yes{end}`));
    });
  });
}
