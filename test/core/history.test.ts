/** core/history.ts: a history keeps its first and last entries and counts the ones between. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { appendToHistory, HISTORY_CAP } from '../../src/core/history.ts';
import type { HistoryEntry } from '../../src/core/types.ts';

const entry = (i: number): HistoryEntry => ({ status: i % 2 ? 'delivered' : 'sent', time: i, detail: `e${i}` });

describe('appendToHistory', () => {
  it('appends as is up to the cap', () => {
    const h = Array.from({ length: HISTORY_CAP - 1 }, (_, i) => entry(i));
    assert.deepEqual(appendToHistory(h, [entry(99)]), [...h, entry(99)]);
  });

  it('past the cap keeps the first 10 and the last entries, with one entry counting the rest, however often it is cut', () => {
    let h: HistoryEntry[] = [];
    for (let i = 0; i < 5000; i++) h = appendToHistory(h, [entry(i)]);
    assert.equal(h.length, HISTORY_CAP);
    assert.deepEqual(h.slice(0, 10), Array.from({ length: 10 }, (_, i) => entry(i)));
    assert.equal(h[10].omitted, 5000 - (HISTORY_CAP - 1));
    assert.match(h[10].detail!, /^4951 entries left out here/);
    assert.deepEqual(h.slice(11), Array.from({ length: HISTORY_CAP - 11 }, (_, i) => entry(5000 - (HISTORY_CAP - 11) + i)));
    // The count stands where the entry it replaces stood in time.
    assert.equal(h[10].time, 5000 - (HISTORY_CAP - 11) - 1);
    // Many at once come to the same.
    const once = appendToHistory([], Array.from({ length: 5000 }, (_, i) => entry(i)));
    assert.deepEqual(once, h);
  });
});
