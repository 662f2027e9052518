/**
 * Sending limits' shared state (core/send-limits.ts has the rules): the pacing of each resource's channel
 * and the per-domain connection slots, so that every process on the store keeps one limit together.
 * Each call is one atomic statement (an upsert with a condition), or a short transaction that locks the
 * pacing row on PostgreSQL, so two workers never take the same slot.
 */
import { type Backoff, nextBackoff } from '../../core/send-limits.ts';
import type { SqlDriver } from '../driver.ts';

/** The answer to a reservation: the slot taken (`reserved`), or when the next one is free. */
export interface Reservation {
  reserved: boolean;
  /** The slot taken, or (not reserved) the next free one. */
  at: number;
  /** When the back-off in force ends; null without one. */
  backoffUntil: number | null;
}

export interface SendLimitStore {
  /**
   * Takes the next send slot of `key`, `intervalMs` after the last one taken, if it falls no later than
   * `now + aheadMs`; otherwise takes nothing and answers when the next slot is. Either way it answers
   * the back-off in force, if any.
   */
  reserveSendSlot(key: string, intervalMs: number, now: number, aheadMs: number): Promise<Reservation>;
  /** A relay asked `key`'s sender to slow down: pushes its next slot past the back-off (core nextBackoff). Answers when it ends. */
  backOffSending(key: string, now: number): Promise<number>;
  /** When the back-off of `key` in force at `now` ends; null when there is none. */
  backoffUntil(key: string, now: number): Promise<number | null>;
  /** Pacing keys whose next slot is after `now`, with that time: what a worker reads to learn of a back-off. */
  pacedKeys(now: number): Promise<Map<string, number>>;
  /** Takes a free one of `max` connection slots of `key` for `holder` until `until`; answers its number, or null when all are held. */
  acquireSendSlot(key: string, max: number, holder: string, now: number, until: number): Promise<number | null>;
  releaseSendSlot(key: string, slot: number, holder: string): Promise<void>;
}

/** When the back-off a pacing row records ends, if it is still in force at `now`. */
function backoffEnd(row: Backoff, now: number): number | null {
  if (row.throttled_at === null || row.throttle_ms === null) return null;
  const ends = Number(row.throttled_at) + Number(row.throttle_ms);
  return ends > now ? ends : null;
}

export function sendLimitQueries(db: SqlDriver): SendLimitStore {
  const greatest = db.dialect === 'postgres' ? 'GREATEST' : 'MAX';
  const forUpdate = db.dialect === 'postgres' ? 'FOR UPDATE' : '';
  return {
    async reserveSendSlot(key, intervalMs, now, aheadMs) {
      // The slot is max(tat, now); it is taken (tat moves one interval on) only within `aheadMs`.
      const taken = await db.get<{ tat: number } & Backoff>(
        `INSERT INTO send_pacing (key, tat) VALUES (?, CAST(? AS DOUBLE PRECISION))
         ON CONFLICT (key) DO UPDATE SET tat = ${greatest}(send_pacing.tat, CAST(? AS DOUBLE PRECISION)) + CAST(? AS DOUBLE PRECISION)
         WHERE send_pacing.tat <= CAST(? AS DOUBLE PRECISION) RETURNING tat, throttled_at, throttle_ms`,
        [key, now + intervalMs, now, intervalMs, now + aheadMs],
      );
      if (taken) return { reserved: true, at: Number(taken.tat) - intervalMs, backoffUntil: backoffEnd(taken, now) };
      const row = await db.get<{ tat: number } & Backoff>('SELECT tat, throttled_at, throttle_ms FROM send_pacing WHERE key = ?', [key]);
      return { reserved: false, at: Number(row?.tat ?? now), backoffUntil: row ? backoffEnd(row, now) : null };
    },

    async backoffUntil(key, now) {
      const row = await db.get<Backoff>('SELECT throttled_at, throttle_ms FROM send_pacing WHERE key = ?', [key]);
      return row ? backoffEnd(row, now) : null;
    },

    async backOffSending(key, now) {
      return db.transaction(async (tx) => {
        await tx.run('INSERT INTO send_pacing (key, tat) VALUES (?, CAST(? AS DOUBLE PRECISION)) ON CONFLICT (key) DO NOTHING', [key, now]);
        const row = (await tx.get<{ tat: number } & Backoff>(`SELECT tat, throttled_at, throttle_ms FROM send_pacing WHERE key = ? ${forUpdate}`, [key]))!;
        const prev: Backoff = { throttled_at: row.throttled_at === null ? null : Number(row.throttled_at), throttle_ms: row.throttle_ms === null ? null : Number(row.throttle_ms) };
        const ms = nextBackoff(prev, now);
        if (ms === null) return prev.throttled_at! + prev.throttle_ms!;
        await tx.run(`UPDATE send_pacing SET tat = ${greatest}(tat, CAST(? AS DOUBLE PRECISION)), throttled_at = ?, throttle_ms = ? WHERE key = ?`, [now + ms, now, ms, key]);
        return now + ms;
      });
    },

    async pacedKeys(now) {
      const rows = await db.all<{ key: string; tat: number }>('SELECT key, tat FROM send_pacing WHERE tat > CAST(? AS DOUBLE PRECISION)', [now]);
      return new Map(rows.map((r) => [r.key, Number(r.tat)]));
    },

    async acquireSendSlot(key, max, holder, now, until) {
      // The lowest slot with no live holder, taken in one statement; two takers of the same slot
      // conflict, and the loser's conditional update changes nothing (it tries the next free one).
      for (let tries = 0; tries < 3; tries++) {
        const row = await db.get<{ slot: number }>(
          `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < ?)
           INSERT INTO send_slots (key, slot, holder, until)
           SELECT ?, i, ?, CAST(? AS BIGINT) FROM n
           WHERE NOT EXISTS (SELECT 1 FROM send_slots s WHERE s.key = ? AND s.slot = n.i AND s.until >= ?)
           ORDER BY i LIMIT 1
           ON CONFLICT (key, slot) DO UPDATE SET holder = excluded.holder, until = excluded.until WHERE send_slots.until < ?
           RETURNING slot`,
          [max, key, holder, until, key, now, now],
        );
        if (row) return Number(row.slot);
        const held = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM send_slots WHERE key = ? AND until >= ?', [key, now]);
        if (Number(held?.n ?? 0) >= max) return null;
      }
      return null;
    },

    async releaseSendSlot(key, slot, holder) {
      await db.run('DELETE FROM send_slots WHERE key = ? AND slot = ? AND holder = ?', [key, slot, holder]);
    },
  };
}
