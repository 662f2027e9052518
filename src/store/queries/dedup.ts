/** The first answers of requests, kept so that a repeated request id answers what the first one got. */
import type { SqlDriver } from '../driver.ts';
import { json } from './rows.ts';

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type DedupClaim = { claimed: true } | { claimed: false; answer: StoredAnswer | null };

/** The first answers of requests, for request deduplication (http/dedup.ts). */
export interface DedupStore {
  /**
   * Claims (scope, key) for a request about to run, or answers what an earlier request with the key
   * got (null while that one is still running). An expired answer, or a claim left pending by a
   * process that died (`staleBefore`), is taken over.
   */
  claimDedup(scope: string, key: string, now: number, expiresAt: number, staleBefore: number): Promise<DedupClaim>;
  /**
   * The process running these claimed requests is alive: while a claim is pending, created_at is
   * its owner's last sign of life, renewed every few seconds (see http/dedup.ts).
   */
  renewDedup(claims: { scope: string; key: string }[], now: number): Promise<void>;
  finishDedup(scope: string, key: string, a: StoredAnswer): Promise<void>;
  releaseDedup(scope: string, key: string): Promise<void>;
  purgeDedup(now: number): Promise<number>;
}

export function dedupQueries(db: SqlDriver): DedupStore {
  return {
    async claimDedup(scope: string, key: string, now: number, expiresAt: number, staleBefore: number): Promise<DedupClaim> {
      const inserted = await db.run(
        `INSERT INTO dedup (scope, key, state, created_at, expires_at) VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
        [scope, key, now, expiresAt],
      );
      if (inserted === 1) return { claimed: true };
      const taken = await db.run(
        `UPDATE dedup SET state = 'pending', status = NULL, headers = NULL, body = NULL, created_at = ?, expires_at = ?
         WHERE scope = ? AND key = ? AND (expires_at < ? OR (state = 'pending' AND created_at < ?))`,
        [now, expiresAt, scope, key, now, staleBefore],
      );
      if (taken === 1) return { claimed: true };
      const r = await db.get<{ state: string; status: number; headers: string; body: string }>('SELECT state, status, headers, body FROM dedup WHERE scope = ? AND key = ?', [scope, key]);
      if (r?.state !== 'done') return { claimed: false, answer: null };
      return { claimed: false, answer: { status: r.status, headers: json(r.headers), body: r.body } };
    },
    async renewDedup(claims: { scope: string; key: string }[], now: number): Promise<void> {
      for (const c of claims) await db.run(`UPDATE dedup SET created_at = ? WHERE scope = ? AND key = ? AND state = 'pending'`, [now, c.scope, c.key]);
    },
    async finishDedup(scope: string, key: string, a: StoredAnswer): Promise<void> {
      await db.run(`UPDATE dedup SET state = 'done', status = ?, headers = ?, body = ? WHERE scope = ? AND key = ?`, [a.status, JSON.stringify(a.headers), a.body, scope, key]);
    },
    async releaseDedup(scope: string, key: string): Promise<void> {
      await db.run('DELETE FROM dedup WHERE scope = ? AND key = ?', [scope, key]);
    },
    async purgeDedup(now: number): Promise<number> {
      return db.run('DELETE FROM dedup WHERE expires_at < ?', [now]);
    },
  };
}
