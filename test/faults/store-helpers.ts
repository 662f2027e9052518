/** What the store fault tests share: a stream of triggers with unique subjects, what came of them, and a held SQLite write lock. */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { driverOf } from '../../src/store/store.ts';
import { eventually, type Response, type TestServer } from '../helpers.ts';
import type { Shop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

export interface Answer {
  title: string;
  status: number;
  body: Response['body'];
  retryAfter: string | null;
  ms: number;
}

/** Sends `count` triggers, `concurrency` at a time, each with its own subject; answers each one's outcome. */
export async function sendTriggers(s: TestServer, shop: Shop, prefix: string, count: number, concurrency = 8, onAnswer?: (a: Answer) => void): Promise<Answer[]> {
  const answers: Answer[] = [];
  const emails = ['john@example.com', 'ann@example.com', 'bob@example.com'];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      const title = `${prefix}-${i}`;
      const started = Date.now();
      let r: Response;
      try {
        r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: emails[i % emails.length], content: { email_title: title, data_lines: [] } });
      } catch (e) {
        throw new Error(`trigger ${title} got no usable answer after ${Date.now() - started} ms: ${(e as Error).message} ${String((e as { cause?: unknown }).cause)}`);
      }
      const a = { title, status: r.status, body: r.body, retryAfter: r.headers.get('retry-after'), ms: Date.now() - started };
      answers.push(a);
      onAnswer?.(a);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, lane));
  return answers;
}

/** Every answer is a success or a 503 with Retry-After and the envelope naming the store; never a 500, never slow. */
export function assertAnswers(answers: Answer[], maxMs: number): void {
  for (const a of answers) {
    assert.ok(a.status === 200 || a.status === 503, `${a.title}: HTTP ${a.status} ${JSON.stringify(a.body)}`);
    if (a.status === 503) {
      assert.equal(a.body.error, 503);
      assert.match(a.body.error_text, /^the store is unavailable \(.+\); retry after \d+ s$/);
      assert.match(a.retryAfter ?? '', /^\d+$/, `${a.title}: 503 without Retry-After`);
    }
    assert.ok(a.ms < maxMs, `${a.title} took ${a.ms} ms`);
  }
}

/** Messages not yet in a final state. */
async function unfinished(s: TestServer): Promise<number> {
  const r = await driverOf(s.app.store).get<{ n: number }>("SELECT COUNT(*) AS n FROM messages WHERE status IN ('queued', 'waiting', 'sending')");
  return Number(r?.n ?? 0);
}

/**
 * Waits until every acknowledged trigger's mail arrived and the queue is empty; answers how often
 * each subject arrived.
 */
export async function deliveredOnce(s: TestServer, smtp: TestSmtp, acknowledged: string[], timeoutMs = 60_000): Promise<Map<string, number>> {
  const counts = () => {
    const c = new Map<string, number>();
    for (const m of smtp.received) c.set(m.mail.subject ?? '', (c.get(m.mail.subject ?? '') ?? 0) + 1);
    return c;
  };
  await eventually(async () => acknowledged.every((t) => counts().has(t)) && (await unfinished(s)) === 0, timeoutMs, 'every acknowledged trigger delivered and the queue empty');
  return counts();
}

/** The event loop's worst stall while `fn` runs, in ms (the server runs in this process). */
export async function worstStall<T>(fn: () => Promise<T>): Promise<{ result: T; stallMs: number }> {
  const h: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  try {
    const result = await fn();
    return { result, stallMs: h.max / 1e6 };
  } finally {
    h.disable();
  }
}

/** Another process that takes the write lock, says "locked", holds it until told to let go, says "released". */
export function holdWriteLock(file: string): { child: ChildProcess; said: string[]; release(): void } {
  const script = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1]);
    db.pragma('busy_timeout = 10000');
    db.exec('BEGIN IMMEDIATE');
    console.log('locked');
    process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); console.log('released'); process.exit(0); });`;
  const child = spawn(process.execPath, ['-e', script, file], { cwd: process.cwd(), stdio: ['pipe', 'pipe', 'inherit'] });
  const said: string[] = [];
  child.stdout!.on('data', (d: Buffer) => said.push(...d.toString().trim().split('\n')));
  // Asked once: stdin ends with it, so the holder is told exactly once however often release() is called.
  let asked = false;
  const release = () => {
    if (asked) return;
    asked = true;
    child.stdin!.end('release\n');
  };
  return { child, said, release };
}

/**
 * /health polled one request after another (every `pauseMs`) until stopped: each answer's time, and how
 * many were not 200 or failed. Polled from this process, where test servers run: the figures include the
 * server's event loop, which is what a stall shows in.
 */
export function watchHealth(url: string, pauseMs = 25) {
  let stopped = false;
  const samples: number[] = [];
  let failed = 0;
  const done = (async () => {
    while (!stopped) {
      const started = performance.now();
      const r = await fetch(`${url}/health`).catch(() => null);
      await r?.arrayBuffer();
      samples.push(performance.now() - started);
      if (r?.status !== 200) failed++;
      await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return { samples, slowest: Math.max(0, ...samples), failed };
    },
  };
}
