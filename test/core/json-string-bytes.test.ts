/**
 * core/json-string-bytes.ts: a large string of a body kept as its JSON text's bytes and read in pieces
 * must read exactly as JSON.parse reads the whole, wherever the body's chunks and the pieces cut it (in
 * an escape, in a UTF-8 character), and refuse what JSON.parse refuses.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonStringBytes } from '../../src/core/json-string-bytes.ts';
import { JsonScan, LARGE_STRING_BYTES } from '../../src/http/json-scan.ts';
import { takeOut } from '../../src/http/large-strings.ts';

const TEXT = 'a "quote", a \\ backslash, a / slash\n\t, é ü 日本 😀 \u0001 \u2028 end. ';

/** The JSON text of `s` without its quotes, escaping / as PHP does, cut into chunks of `size` bytes. */
function bytesOf(s: string, size: number, escapeSlash = true): JsonStringBytes {
  let json = JSON.stringify(s).slice(1, -1);
  if (escapeSlash) json = json.replaceAll('/', '\\/');
  json = json.replaceAll('é', '\\u00e9'); // an escape where JSON.stringify writes none
  const all = Buffer.from(json);
  const pieces: Buffer[] = [];
  for (let at = 0; at < all.length; at += size) pieces.push(all.subarray(at, at + size));
  return new JsonStringBytes(pieces, all.length);
}

describe('JsonStringBytes', () => {
  it('reads as JSON.parse reads the whole, for every chunk size and step', () => {
    const s = TEXT.repeat(40);
    for (const chunk of [1, 2, 3, 5, 7, 64, 1000, 1 << 20]) {
      for (const step of [1, 2, 5, 6, 7, 13, 4096]) {
        const b = bytesOf(s, chunk);
        assert.equal([...b.texts(step)].join(''), s, `chunks of ${chunk}, steps of ${step}`);
        assert.equal(b.text(), s);
      }
    }
  });

  it('gives pieces of about the step, so that a large string is never read in one', () => {
    const b = bytesOf('x'.repeat(100_000), 65_536);
    const lengths = [...b.texts(10_000)].map((t) => t.length);
    assert.ok(Math.max(...lengths) <= 10_000, String(lengths));
  });

  for (const [what, json] of [
    ['an invalid escape', 'abc\\xdef'],
    ['an escape cut by the end', 'abc\\u00'],
    ['a raw control character', 'abc\ndef'],
    ['a lone backslash at the end', 'abc\\'],
  ]) {
    it(`refuses ${what} with a SyntaxError, as JSON.parse does`, () => {
      assert.throws(() => JSON.parse(`"${json}"`), SyntaxError);
      const b = new JsonStringBytes([Buffer.from(json)], Buffer.byteLength(json));
      assert.throws(() => [...b.texts(2)], SyntaxError);
      assert.throws(() => b.text(), SyntaxError);
    });
  }

  it('shows its size, not its text, when a body is logged or stringified', () => {
    assert.equal(JSON.stringify({ data: bytesOf('abc', 2, false) }), '{"data":"[a string of 3 bytes]"}');
  });
});

describe('JsonScan and takeOut', () => {
  it('note string values of LARGE_STRING_BYTES or more, never keys, wherever the chunks cut; the skeleton parses to the rest', () => {
    const big = 'b'.repeat(LARGE_STRING_BYTES);
    const bigKey = 'k'.repeat(LARGE_STRING_BYTES);
    const body = Buffer.from(JSON.stringify({ small: 'x', [bigKey]: 1, list: [big, { deep: big }], last: `${big}"`, token: 'to"ken\\1' }));
    for (const size of [1, 7, 4096, body.length]) {
      const scan = new JsonScan();
      const chunks: Buffer[] = [];
      for (let at = 0; at < body.length; at += size) {
        const c = body.subarray(at, at + size);
        chunks.push(c);
        scan.feed(c);
      }
      assert.equal(scan.largeStrings.length, 3, `chunks of ${size}`);
      assert.equal(scan.token(), 'to"ken\\1', 'the top-level token, read as it went by');
      const { skeleton, strings } = takeOut(chunks, body.length, scan.largeStrings);
      assert.ok(skeleton.length < 2 * LARGE_STRING_BYTES, 'the key stays, the three values are out');
      const parsed = JSON.parse(skeleton);
      assert.equal(parsed.small, 'x');
      assert.equal(parsed[bigKey], 1);
      assert.equal(strings.get(parsed.list[0])!.text(), big);
      assert.equal(strings.get(parsed.list[1].deep)!.text(), big);
      assert.equal(strings.get(parsed.last)!.text(), `${big}"`);
    }
  });
});
