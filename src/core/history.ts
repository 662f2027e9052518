/**
 * A message's history is bounded: whatever a peer or a recipient does (an SMSC repeating receipts, a
 * link scanner fetching a link thousands of times), it keeps its first entries (how the message was
 * made and sent), one entry counting what was left out, and its latest entries (where it stands now).
 * Every writer of a history that can grow without bound appends through `appendToHistory`.
 */
import type { HistoryEntry } from './types.ts';

/** Entries a history holds at most. */
export const HISTORY_CAP = 50;
/** The first entries, always kept: queued, sending, sent and what came first. */
const HEAD = 10;
/** The latest entries kept after the count of those left out. */
const TAIL = HISTORY_CAP - HEAD - 1;

/** `history` with `entries` appended, cut to HISTORY_CAP: the first HEAD, one entry counting the rest, the last TAIL. */
export function appendToHistory(history: HistoryEntry[], entries: HistoryEntry[]): HistoryEntry[] {
  const all = [...history, ...entries];
  if (all.length <= HISTORY_CAP) return all;
  // An earlier cut left its count at HEAD; the entries between it and the tail are added to it.
  const marker = all[HEAD]?.omitted !== undefined ? all[HEAD] : null;
  const firstCut = HEAD + (marker ? 1 : 0);
  const tailFrom = all.length - TAIL;
  const cut = all.slice(firstCut, tailFrom);
  const omitted = (marker?.omitted ?? 0) + cut.length;
  const last = cut[cut.length - 1];
  const count: HistoryEntry = {
    status: last.status,
    time: last.time,
    detail: `${omitted} entr${omitted === 1 ? 'y' : 'ies'} left out here (a history keeps its first ${HEAD} and last ${TAIL} entries)`,
    omitted,
  };
  return [...all.slice(0, HEAD), count, ...all.slice(tailFrom)];
}
