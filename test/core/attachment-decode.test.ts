/**
 * core/attachments.ts decodes base64 a piece at a time (so that a large attachment does not hold the
 * event loop) and must answer exactly what one Buffer.from of the whole text answered, under the same
 * rule: whitespace removed, the alphabet, at most two '=' at the end, no group of one character.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { Base64Decoder, DECODE_STEP_CHARS, decodeAttachments } from '../../src/core/attachments.ts';
import { ApiError } from '../../src/core/errors.ts';
import { parseLaunch } from '../../src/core/launch-request.ts';
import { inTurns } from '../../src/engine/in-turns.ts';
import { yieldToEventLoop } from '../../src/support/background-loop.ts';
import { Slots } from '../../src/support/slots.ts';
import { runInTurns, runNow, type Steps } from '../../src/support/steps.ts';
import { assertTiming, watchTurns } from '../timing.ts';

/** The rule and the decode as they were, on the whole text at once. */
function wholeText(text: string): Buffer | null {
  const payload = text.replace(/\s+/g, '');
  if (payload.length % 4 === 1 || !/^[A-Za-z0-9+/]*={0,2}$/.test(payload)) return null;
  return Buffer.from(payload, 'base64');
}

function inPieces(text: string, cuts: number[]): Buffer | null {
  const d = new Base64Decoder(text.length);
  let at = 0;
  for (const cut of [...cuts, text.length]) {
    if (!d.push(text.slice(at, cut))) return null;
    at = cut;
  }
  const r = d.end();
  if (r) assert.equal(r.sha256, createHash('sha256').update(r.data).digest('hex'));
  return r?.data ?? null;
}

function file(n: number): Buffer {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 7919 + 13) % 256;
  return bytes;
}
const dataUrl = (text: string) => `data:application/octet-stream;base64,${text}`;

describe('base64 decoded in pieces', () => {
  it('answers what the whole text answered, cut anywhere', () => {
    const texts = [
      '', 'QQ', 'QQ=', 'QQ==', 'QQ===', 'Q', 'Q=', 'Q==', 'QUI', 'QUI=', 'QUJD', 'QUJD=', 'QUJDRA', 'QUJDRA=', 'QUJDRA==', 'QU=JD', '====', '=',
      ' Q Q = = ', 'QUJD\r\nRA==\r\n', 'QUJD RA= =', 'QQ==\n', '\tQ\u00a0UJD', '@@', 'SGVsbG8*', 'SGVs bG8K', 'QQ==QQ==', 'QUJD\n=', 'QUJDR\nA==',
    ];
    for (const text of texts) {
      const expected = wholeText(text);
      for (let a = 0; a <= text.length; a++) {
        for (let b = a; b <= text.length; b++) assert.deepEqual(inPieces(text, [a, b]), expected, `${JSON.stringify(text)} cut at ${a} and ${b}`);
      }
    }
  });

  it('decodes whole files exactly, in pieces of every size, with their SHA-256', () => {
    for (const n of [0, 1, 2, 3, 100, 1000, 4099]) {
      const bytes = file(n);
      for (const text of [bytes.toString('base64'), bytes.toString('base64').replace(/.{76}/g, '$&\r\n'), bytes.toString('base64').replace(/=+$/, '')]) {
        for (const size of [1, 2, 3, 5, 7, 64, 1000]) {
          const cuts = Array.from({ length: Math.floor(text.length / size) }, (_, i) => (i + 1) * size);
          assert.deepEqual(inPieces(text, cuts), bytes, `${n} bytes in pieces of ${size}`);
        }
      }
    }
  });
});

describe('attachments decoded in steps', () => {
  const steps = <T>(work: Steps<T>): { value: T; yields: number } => {
    let yields = 0;
    let r = work.next();
    for (; !r.done; r = work.next()) yields++;
    return { value: r.value, yields };
  };

  it('decodes a small attachment at once and a large one a step at a time, with the same bytes and hash', () => {
    const small = steps(decodeAttachments([{ data: dataUrl(file(1000).toString('base64')), name: 's.bin' }], 1e9));
    assert.equal(small.yields, 0);
    assert.deepEqual(small.value[0].data, file(1000));
    const big = file(3 * DECODE_STEP_CHARS);
    const large = steps(decodeAttachments([{ data: dataUrl(big.toString('base64')), name: 'l.bin' }], 1e9));
    assert.ok(large.yields >= 4, `${large.yields} yields`);
    assert.ok(large.value[0].data.equals(big));
    assert.equal(large.value[0].sha256, createHash('sha256').update(big).digest('hex'));
  });

  it('refuses bad base64 and too many bytes with the same answers as before', () => {
    const big = file(3 * DECODE_STEP_CHARS).toString('base64');
    const refused = (items: unknown[], limit: number, code: number, text: string) =>
      assert.throws(() => runNow(decodeAttachments(items, limit)), (e: unknown) => e instanceof ApiError && e.code === code && e.text === text);
    refused([{ data: dataUrl('SEVMTE8K'), name: 'a' }, { data: dataUrl(`${big}*`), name: 'b' }], 1e9, 400, 'attach[1].data is not valid base64');
    refused([{ data: dataUrl(`${big.slice(0, 1000)}=${big.slice(1000)}`), name: 'b' }], 1e9, 400, 'attach[0].data is not valid base64');
    refused([{ data: dataUrl(big), name: 'b' }], 1000, 413, 'attachments are larger than the limit of 1000 bytes');
  });

  it('lets the event loop run between the steps of a large decode, and refuses bad base64 found late in one', async () => {
    const big = file(9 * 1024 * 1024);
    // Through JSON, as a request's body arrives: its strings are flat (a concatenated one would be flattened, a copy, by the first look at it).
    const body = JSON.parse(JSON.stringify({ email: 'a@b.co', attach: [{ data: dataUrl(big.toString('base64')), name: 'big.bin' }] }));
    const watch = watchTurns();
    const params = await inTurns(parseLaunch(body, 10 * 1024 * 1024));
    const { turns, longestMs } = watch.stop();
    assert.ok(params.attachments[0].data.equals(big));
    // The decode as one call gave the event loop no turn while it ran (85 to 180 ms in one piece on a busy 2-core machine).
    assert.ok(turns >= 20, `${turns} turns of the event loop during the decode`);
    // A step takes about 2 to 15 ms; the bound leaves room for a loaded machine's pauses (the process not scheduled, a GC).
    assertTiming('longest the event loop waited during a 9 MB decode', longestMs, { targetMs: 20, boundMs: 400 });

    const bad = JSON.parse(JSON.stringify({ ...body, attach: [{ data: dataUrl(`${big.toString('base64')}@`), name: 'big.bin' }] }));
    await assert.rejects(inTurns(parseLaunch(bad, 10 * 1024 * 1024)), (e: unknown) => e instanceof ApiError && e.code === 400 && e.text === 'attach[0].data is not valid base64');
    assert.equal((await inTurns(parseLaunch(body, 10 * 1024 * 1024))).attachments[0].sha256, createHash('sha256').update(big).digest('hex'), 'a refused decode gives its turn back');
  });
});

describe('steps run in turns', () => {
  it('runs work that never yields at once, and at most as many yielding works at a time as there are slots', async () => {
    const slots = new Slots(1);
    const order: string[] = [];
    function* work(name: string, yields: number): Steps<string> {
      for (let i = 0; i < yields; i++) {
        order.push(`${name}${i}`);
        yield;
      }
      return name;
    }
    const all = Promise.all([runInTurns(work('a', 3), slots), runInTurns(work('b', 3), slots), runInTurns(work('c', 0), slots)]);
    await yieldToEventLoop();
    assert.deepEqual(await all, ['a', 'b', 'c']);
    // b's first step ran at once (before it knew it would yield), the rest only once a was done; c needed no slot.
    assert.deepEqual(order, ['a0', 'b0', 'a1', 'a2', 'b1', 'b2']);
    assert.deepEqual(slots.stats, { used: 0, waiting: 0 });
  });

  it('gives the slot back when the work throws', async () => {
    const slots = new Slots(1);
    function* failing(): Steps<never> {
      yield;
      throw new Error('bad');
    }
    await assert.rejects(runInTurns(failing(), slots), /bad/);
    assert.deepEqual(slots.stats, { used: 0, waiting: 0 });
  });
});
