import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ApiError } from '../../src/core/errors.ts';
import { checkQuery, compileQuery } from '../../src/core/mongo-query.ts';
import { compileUserRegex, REGEX_LIMITS, stripExtended, type UserRegex } from '../../src/core/regex.ts';

const compiled = (pattern: string, options = ''): UserRegex => {
  const re = compileUserRegex(pattern, options);
  if (typeof re === 'string') assert.fail(`${pattern}: ${re}`);
  return re;
};

const refused = (q: unknown, text: RegExp) =>
  assert.throws(() => checkQuery(q, 'custom_request'), (e: unknown) => e instanceof ApiError && e.code === 400 && text.test(e.text));

const TEXTS = [
  '', 'abc', 'ABC', 'a.b', 'order #123 paid', 'line one\nline two', 'Line\nabc\n', 'x@example.com', 'Ünïcödé café',
  'tab\there', '  spaced  ', 'aaa', 'foo123bar', 'end.', 'Москва', 'a\nb', 'ab\ncd\nef',
];
const PATTERNS = [
  'abc', '^abc', 'abc$', '^a.c$', 'a.b', 'a\\.b', '\\d+', '^\\w+@\\w+\\.com$', '[a-c]{2,}', '[^a-z]', 'o|e', '(foo|bar)\\d*',
  '^line', 'two$', '^$', 'a.b', 'caf.', '\\bone\\b', '\\s', '^\\s+', 'a*', '(ab)+', '[A-Z]', 'москва', '^(a|b)+$', 'x{2,3}',
  '^[^\\n]*$', '\\$', '#\\d+',
];

describe('user regexes on RE2', () => {
  it('match as JavaScript RegExp does for ordinary patterns, with options i, m, s', () => {
    for (const options of ['', 'i', 'm', 's', 'im', 'ims']) {
      for (const p of PATTERNS) {
        const js = new RegExp(p, options);
        const re2 = compiled(p, options);
        for (const t of TEXTS) assert.equal(re2.test(t), js.test(t), `/${p}/${options} on ${JSON.stringify(t)}`);
      }
    }
  });

  it('reads option x as PCRE extended mode: whitespace and # comments dropped, outside classes', () => {
    assert.equal(stripExtended('^ a b c # letters\n  \\d+ $'), '^abc\\d+$');
    assert.equal(stripExtended('[ #] x'), '[ #]x');
    assert.equal(stripExtended('a\\ b\\#c'), 'a\\x{20}b\\#c');
    assert.equal(stripExtended('[]a ] b'), '[]a ]b');
    assert.equal(compiled(' ^ order \\  \\# \\d+ # the order number', 'x').test('order #42'), true);
    assert.equal(compiled('^ A  B $', 'xi').test('ab'), true);
    assert.equal(compiled('^ A  B $', 'x').test('ab'), false);
  });

  it('refuses what RE2 cannot run in linear time, saying RE2 syntax is required', () => {
    for (const p of ['(a)\\1', 'a(?=b)', 'a(?!b)', '(?<=a)b', '(?<!a)b', '(?>a)', 'a++']) {
      refused({ name: { $regex: p } }, /^custom_request\.name\.\$regex: not a valid RE2 regular expression .*RE2 syntax is required/);
    }
    refused({ name: { $regex: '[' } }, /custom_request\.name\.\$regex: not a valid RE2/);
    refused({ name: { $regex: 'a'.repeat(REGEX_LIMITS.patternLength + 1) } }, /longer than 512 characters/);
    refused({ name: { $regex: 'a.{0,1000}b' } }, /instructions, more than 2000/);
    refused({ name: { $regex: 'a', $options: 'g' } }, /\$options takes letters of i, m, s, x/);
  });

  it('keeps MongoDB semantics in queries: strings and arrays of strings, $not, $elemMatch, options', () => {
    const docs = [
      { _id: 1, name: 'Anna', tags: ['vip', 'new'], nested: [['deep-x']], n: 5 },
      { _id: 2, name: 'bob', tags: ['old'], n: 'Anna' },
      { _id: 3, name: null, tags: [] },
      { _id: 4, items: [{ sku: 'AB-1' }, { sku: 'cd-2' }] },
    ];
    const ids = (q: Record<string, unknown>) => docs.filter(compileQuery(q, 'custom_request')).map((d) => d._id);
    assert.deepEqual(ids({ name: { $regex: '^a', $options: 'i' } }), [1]);
    assert.deepEqual(ids({ name: { $regex: 'o' } }), [2]);
    assert.deepEqual(ids({ tags: { $regex: '^v' } }), [1]);
    assert.deepEqual(ids({ nested: { $regex: 'deep' } }), [1]);
    assert.deepEqual(ids({ n: { $regex: 'Anna' } }), [2]);
    assert.deepEqual(ids({ name: { $not: { $regex: '^A' } } }), [2, 3, 4]);
    assert.deepEqual(ids({ items: { $elemMatch: { sku: { $regex: '^cd' } } } }), [4]);
    assert.deepEqual(ids({ 'items.sku': { $regex: '^ab', $options: 'i' } }), [4]);
    assert.deepEqual(ids({ tags: { $elemMatch: { $regex: 'ew' } } }), [1]);
    assert.deepEqual(ids({ $or: [{ name: { $regex: 'nn' } }, { tags: { $regex: 'ld$' } }] }), [1, 2]);
    assert.deepEqual(ids({ name: { $regex: '^ a n # comment', $options: 'xi' } }), [1]);
  });

  it('runs the patterns that froze the process in linear time over 100,000 characters', () => {
    const texts = ['a'.repeat(100_000) + '!', 'x'.repeat(100_000), 'a'.repeat(100_000)];
    for (const p of ['^((a+))+$', '^(?:(a+))+$', '^(a|a)*$', '(a*)*$', '(x+x+)+y', '^(a+)+$', '(.*a){20}$']) {
      const re = compiled(p);
      for (const t of texts) {
        const started = performance.now();
        re.test(t);
        assert.ok(performance.now() - started < 1000, `${p} took ${performance.now() - started} ms`);
      }
    }
    assert.equal(compiled('^(a|a)*$').test('a'.repeat(100_000)), true);
    assert.equal(compiled('^(a|a)*$').test('a'.repeat(100_000) + '!'), false);
    assert.equal(compiled('(x+x+)+y').test('x'.repeat(100_000)), false);
    assert.equal(compiled('(x+x+)+y').test('x'.repeat(100_000) + 'y'), true);
  });

  it('bounds one match by program size × characters, a 400 naming the field', () => {
    const test = compileQuery({ bio: { $regex: '(a|b).{30}z$' } }, 'content_filter');
    assert.equal(test({ bio: 'ab'.repeat(500) + 'q' }), false);
    assert.equal(test({ bio: 'ab'.repeat(500) + 'z' }), true);
    assert.throws(
      () => test({ bio: 'ab'.repeat(50_000) }),
      (e: unknown) => e instanceof ApiError && e.code === 400 && /^content_filter\.bio\.\$regex: .*100000 characters exceeds the regex work limit/.test(e.text),
    );
    // A literal pattern is a substring search: any length.
    assert.equal(compileQuery({ bio: { $regex: 'needle' } }, 'content_filter')({ bio: 'hay'.repeat(300_000) + 'needle' }), true);
  });

  it('compiles a query once: many documents are cheap', () => {
    const test = compileQuery({ email: { $regex: '@example\\.(com|org)$', $options: 'i' } }, 'custom_request');
    const docs = Array.from({ length: 50_000 }, (_, i) => ({ email: `user${i}@${i % 2 ? 'example.com' : 'other.net'}` }));
    const started = performance.now();
    assert.equal(docs.filter(test).length, 25_000);
    assert.ok(performance.now() - started < 2000, `50,000 documents took ${performance.now() - started} ms`);
  });
});
