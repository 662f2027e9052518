/** Background batch tasks: stored, claimed under a lease, advanced a chunk at a time. */
import type { ItemError, Task } from '../../core/types.ts';
import type { Row, SqlDriver } from '../driver.ts';
import { json } from './rows.ts';
import { writeEvent } from './webhooks.ts';

const toTask = (r: Row): Task => ({
  id: r.id as number,
  kind: r.kind as Task['kind'],
  state: r.state as Task['state'],
  campaign_id: r.campaign_id as number,
  launch_id: r.launch_id as number,
  payload: json(r.payload),
  total: r.total as number,
  processed: r.processed as number,
  sent: r.sent as number,
  skipped: r.skipped as number,
  failed: r.failed as number,
  errors: json(r.errors),
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
  finished_at: (r.finished_at as number | null) ?? null,
});

/** Progress of one chunk of a task. */
export interface TaskProgress {
  processed: number;
  sent: number;
  skipped: number;
  failed: number;
  errors: ItemError[];
}

/** Kept errors per task: enough to act on, bounded for a 100,000-item task. */
const MAX_ERRORS = 1000;

/** Background batch tasks, claimed under a lease and advanced a chunk at a time. */
export interface TaskStore {
  insertTask(t: Pick<Task, 'kind' | 'campaign_id' | 'launch_id' | 'payload' | 'total'>, now: number): Promise<Task>;
  getTask(id: number): Promise<Task | null>;
  /** Takes the oldest unfinished task no runner holds (a dead runner's lease has run out). */
  claimTask(now: number, leaseUntil: number): Promise<Task | null>;
  /** Adds a chunk's progress if the task is still at `from` items; false when another runner moved it. */
  advanceTask(t: Task, from: number, p: TaskProgress, done: boolean, now: number, leaseUntil: number): Promise<boolean>;
  /** A runner stopping cleanly hands its task back at once rather than when its lease runs out. */
  releaseTask(id: number): Promise<void>;
  failTask(id: number, error: string, now: number): Promise<void>;
}

/** task.done, written with the update that ends the task (the caller's transaction, if any). */
async function taskDone(db: SqlDriver, id: number, now: number): Promise<void> {
  const r = await db.get('SELECT t.*, l.custom_data AS launch_custom_data FROM tasks t JOIN launches l ON l.id = t.launch_id WHERE t.id = ?', [id]);
  if (!r) return;
  const t = toTask(r);
  const data = async () => ({
    task_id: t.id, kind: t.kind, state: t.state, launch_id: t.launch_id, campaign_id: t.campaign_id,
    total: t.total, processed: t.processed, sent: t.sent, skipped: t.skipped, failed: t.failed, custom_data: json(r.launch_custom_data),
  });
  await writeEvent(db, 'task.done', t.campaign_id, t.launch_id, data, now);
}

export function taskQueries(db: SqlDriver): TaskStore {
  const skipLocked = db.dialect === 'postgres' ? 'FOR UPDATE SKIP LOCKED' : '';
  return {
    async insertTask(t: Pick<Task, 'kind' | 'campaign_id' | 'launch_id' | 'payload' | 'total'>, now: number): Promise<Task> {
      const r = await db.get(
        `INSERT INTO tasks (kind, state, campaign_id, launch_id, payload, total, processed, sent, skipped, failed, errors, created_at, updated_at)
         VALUES (?, 'queued', ?, ?, ?, ?, 0, 0, 0, 0, '[]', ?, ?) RETURNING *`,
        [t.kind, t.campaign_id, t.launch_id, JSON.stringify(t.payload), t.total, now, now],
      );
      return toTask(r!);
    },
    async getTask(id: number): Promise<Task | null> {
      const r = await db.get('SELECT * FROM tasks WHERE id = ?', [id]);
      return r ? toTask(r) : null;
    },
    async claimTask(now: number, leaseUntil: number): Promise<Task | null> {
      const r = await db.get(
        `UPDATE tasks SET state = 'running', lease_until = ?, updated_at = ? WHERE id = (
           SELECT id FROM tasks WHERE state IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < ?) ORDER BY id LIMIT 1 ${skipLocked}
         ) RETURNING *`,
        [leaseUntil, now, now],
      );
      return r ? toTask(r) : null;
    },
    async advanceTask(t: Task, from: number, p: TaskProgress, done: boolean, now: number, leaseUntil: number): Promise<boolean> {
      const errors = [...t.errors, ...p.errors].slice(0, MAX_ERRORS);
      const changed = await db.run(
        `UPDATE tasks SET processed = processed + ?, sent = sent + ?, skipped = skipped + ?, failed = failed + ?, errors = ?,
           state = ?, finished_at = ?, lease_until = ?, updated_at = ? WHERE id = ? AND processed = ? AND state = 'running'`,
        [p.processed, p.sent, p.skipped, p.failed, JSON.stringify(errors), done ? 'done' : 'running', done ? now : null, leaseUntil, now, t.id, from],
      );
      if (changed === 1 && done) await taskDone(db, t.id, now);
      return changed === 1;
    },
    async releaseTask(id: number): Promise<void> {
      await db.run('UPDATE tasks SET lease_until = NULL WHERE id = ?', [id]);
    },
    async failTask(id: number, error: string, now: number): Promise<void> {
      await db.run(
        `UPDATE tasks SET state = 'failed', errors = ?, finished_at = ?, updated_at = ? WHERE id = ?`,
        [JSON.stringify([{ index: -1, error: 500, error_text: error }]), now, now, id],
      );
      await taskDone(db, id, now);
    },
  };
}
