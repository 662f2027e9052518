/** The first answers of requests, kept so that a repeated request id answers what the first one got. */
import { DuplicateRequest } from '../../core/errors.ts';
import type { SqlDriver } from '../driver.ts';
import { json } from './rows.ts';

export interface StoredAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

export type DedupClaim = { claimed: true } | { claimed: false; answer: StoredAnswer | null };

/**
 * What a key holds now: nothing live (free to run), a request still running, the answer to repeat, or
 * the claim of a request that died after writing its launch (its answer names the launch).
 */
export type DedupPeek = { state: 'free' } | { state: 'running' } | { state: 'answered'; answer: StoredAnswer } | { state: 'launched'; answer: StoredAnswer; launchId: number };

/** A claimed key and the answer its launch will give: written with the launch (markDedupLaunch). */
export interface DedupMark {
  scope: string;
  key: string;
  status: number;
  body: string;
}

/**
 * A request's answer, written with the launch it answers in one transaction (one statement on
 * PostgreSQL), so that the key is claimed and answered by the same commit that stores the launch.
 */
export interface DedupSeal {
  scope: string;
  key: string;
  /** The answer; its headers are the launch's id (`launch-id`), known only once the launch is written. */
  status: number;
  body: string;
  now: number;
  expiresAt: number;
  /** A pending claim last renewed before this was left by a dead process, and is taken over. */
  staleBefore: number;
}

/** An answer kept without a launch (a refusal): a seal with its headers already known. */
export type DedupAnswer = Omit<DedupSeal, 'status' | 'body'> & StoredAnswer;

/**
 * A key is free to take over when its answer has expired or its pending claim was abandoned, unless that
 * claim had written its launch (status set by markDedupLaunch): a repeat then answers with that launch.
 */
const TAKEN_OVER = `dedup.expires_at < ? OR (dedup.state = 'pending' AND dedup.created_at < ? AND dedup.status IS NULL)`;

/** Writes a done answer unless a live one, or a live claim, holds the key: `?` are scope, key, status, headers, body, created_at, expires_at, now, staleBefore. */
const ANSWER_DEDUP = `INSERT INTO dedup (scope, key, state, status, headers, body, created_at, expires_at) VALUES (?, ?, 'done', ?, ?, ?, ?, ?)
  ON CONFLICT (scope, key) DO UPDATE SET state = 'done', status = excluded.status, headers = excluded.headers, body = excluded.body,
    created_at = excluded.created_at, expires_at = excluded.expires_at
  WHERE ${TAKEN_OVER}`;

/** The same write for PostgreSQL's one-statement launch: the values come from a SELECT (`source`, naming the launch's id `i.id`). */
export const answerDedupFrom = (source: string) => `INSERT INTO dedup (scope, key, state, status, headers, body, created_at, expires_at)
  SELECT CAST(? AS TEXT), CAST(? AS TEXT), 'done', CAST(? AS INTEGER), json_build_object('launch-id', i.id::text)::text, CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT) FROM ${source}
  ON CONFLICT (scope, key) DO UPDATE SET state = 'done', status = excluded.status, headers = excluded.headers, body = excluded.body,
    created_at = excluded.created_at, expires_at = excluded.expires_at
  WHERE ${TAKEN_OVER}`;

export const sealParams = (s: DedupSeal) => [s.scope, s.key, s.status, s.body, s.now, s.expiresAt];
export const takeoverParams = (s: Pick<DedupSeal, 'now' | 'staleBefore'>) => [s.now, s.staleBefore];

/** The first answers of requests, for request deduplication (http/dedup.ts). */
export interface DedupStore {
  /**
   * Claims (scope, key) for a request about to run, or answers what an earlier request with the key
   * got (null while that one is still running). An expired answer, or a claim left pending by a
   * process that died (`staleBefore`), is taken over.
   */
  claimDedup(scope: string, key: string, now: number, expiresAt: number, staleBefore: number): Promise<DedupClaim>;
  /** What the key holds, read only: a request about to run looks first, and claims the key with its write (DedupSeal). */
  peekDedup(scope: string, key: string, now: number, staleBefore: number): Promise<DedupPeek>;
  /** Keeps an answer for a key no one claimed; false when a live claim or answer holds it (that one stands). */
  answerDedup(a: DedupAnswer): Promise<boolean>;
  /**
   * Inside a launch's transaction: claims the key and keeps the answer with the launch's id. Throws
   * DuplicateRequest when a live claim or answer holds it, so that the transaction rolls back.
   */
  sealDedup(seal: DedupSeal, launchId: number): Promise<void>;
  /**
   * Inside the transaction that writes the launch of a claimed key: the claim keeps the answer naming
   * the launch, still pending (its request goes on), so that a repeat after the process dies answers with it.
   */
  markDedupLaunch(mark: DedupMark, launchId: number): Promise<void>;
  /**
   * The process running these claimed requests is alive: while a claim is pending, created_at is
   * its owner's last sign of life, renewed every few seconds (see http/dedup.ts).
   */
  renewDedup(claims: { scope: string; key: string }[], now: number): Promise<void>;
  finishDedup(scope: string, key: string, a: StoredAnswer): Promise<void>;
  /** Lets a claim go after a fault; a claim whose launch was written keeps that launch's answer instead. */
  releaseDedup(scope: string, key: string): Promise<void>;
  purgeDedup(now: number): Promise<number>;
}

export function dedupQueries(db: SqlDriver): DedupStore {
  const answerDedup = async (a: DedupAnswer) =>
    (await db.run(ANSWER_DEDUP, [a.scope, a.key, a.status, JSON.stringify(a.headers), a.body, a.now, a.expiresAt, ...takeoverParams(a)])) === 1;
  return {
    async claimDedup(scope: string, key: string, now: number, expiresAt: number, staleBefore: number): Promise<DedupClaim> {
      const inserted = await db.run(
        `INSERT INTO dedup (scope, key, state, created_at, expires_at) VALUES (?, ?, 'pending', ?, ?) ON CONFLICT (scope, key) DO NOTHING`,
        [scope, key, now, expiresAt],
      );
      if (inserted === 1) return { claimed: true };
      const taken = await db.run(
        `UPDATE dedup SET state = 'pending', status = NULL, headers = NULL, body = NULL, created_at = ?, expires_at = ?
         WHERE scope = ? AND key = ? AND (expires_at < ? OR (state = 'pending' AND created_at < ? AND status IS NULL))`,
        [now, expiresAt, scope, key, now, staleBefore],
      );
      if (taken === 1) return { claimed: true };
      const r = await db.get<{ state: string; status: number; headers: string; body: string }>('SELECT state, status, headers, body FROM dedup WHERE scope = ? AND key = ?', [scope, key]);
      if (r?.state !== 'done') return { claimed: false, answer: null };
      return { claimed: false, answer: { status: r.status, headers: json(r.headers), body: r.body } };
    },
    async peekDedup(scope: string, key: string, now: number, staleBefore: number): Promise<DedupPeek> {
      const r = await db.get<{ state: string; status: number; headers: string; body: string; created_at: number | string; expires_at: number | string }>(
        'SELECT state, status, headers, body, created_at, expires_at FROM dedup WHERE scope = ? AND key = ?',
        [scope, key],
      );
      if (!r || Number(r.expires_at) < now) return { state: 'free' };
      if (r.state === 'done') return { state: 'answered', answer: { status: r.status, headers: json(r.headers), body: r.body } };
      if (Number(r.created_at) >= staleBefore) return { state: 'running' };
      if (r.status === null) return { state: 'free' };
      const headers = json<Record<string, string>>(r.headers);
      return { state: 'launched', answer: { status: r.status, headers, body: r.body }, launchId: Number(headers['launch-id']) };
    },
    answerDedup,
    async sealDedup(seal: DedupSeal, launchId: number): Promise<void> {
      // answerDedup's write with the values in place (a copy of the seal with its headers cost the accept path V8's slow paths).
      const headers = JSON.stringify({ 'launch-id': String(launchId) });
      const params = [seal.scope, seal.key, seal.status, headers, seal.body, seal.now, seal.expiresAt, seal.now, seal.staleBefore];
      if ((await db.run(ANSWER_DEDUP, params)) !== 1) throw new DuplicateRequest(seal.key);
    },
    async markDedupLaunch(mark: DedupMark, launchId: number): Promise<void> {
      await db.run(`UPDATE dedup SET status = ?, headers = ?, body = ? WHERE scope = ? AND key = ? AND state = 'pending'`, [
        mark.status, JSON.stringify({ 'launch-id': String(launchId) }), mark.body, mark.scope, mark.key,
      ]);
    },
    async renewDedup(claims: { scope: string; key: string }[], now: number): Promise<void> {
      for (const c of claims) await db.run(`UPDATE dedup SET created_at = ? WHERE scope = ? AND key = ? AND state = 'pending'`, [now, c.scope, c.key]);
    },
    async finishDedup(scope: string, key: string, a: StoredAnswer): Promise<void> {
      await db.run(`UPDATE dedup SET state = 'done', status = ?, headers = ?, body = ? WHERE scope = ? AND key = ?`, [a.status, JSON.stringify(a.headers), a.body, scope, key]);
    },
    async releaseDedup(scope: string, key: string): Promise<void> {
      if ((await db.run('DELETE FROM dedup WHERE scope = ? AND key = ? AND status IS NULL', [scope, key])) === 1) return;
      await db.run(`UPDATE dedup SET state = 'done' WHERE scope = ? AND key = ? AND state = 'pending'`, [scope, key]);
    },
    async purgeDedup(now: number): Promise<number> {
      return db.run('DELETE FROM dedup WHERE expires_at < ?', [now]);
    },
  };
}
