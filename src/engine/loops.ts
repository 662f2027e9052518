/** What the engine's background loops (the expander, the task runner) share, and how they are woken. */
import type { FastifyBaseLogger } from 'fastify';
import type { DeliveryMetrics } from '../metrics.ts';

/** Which of this process's background loops has work: messages to send, launches to expand, tasks to run, webhooks to post. */
/** The kinds of background work, each a loop that can be woken (and, on PostgreSQL, woken in other processes). */
export const WORK = ['messages', 'launches', 'tasks', 'webhooks'] as const;
export type Work = (typeof WORK)[number];

/** Tells this process's loop for `what` that it has work, so it starts now rather than at its next poll. */
export type Wake = (what: Work) => void;

/** A background loop's settings: how often it looks for work, its lease, where it logs and counts store errors. */
export interface LoopOptions {
  pollMs: number;
  leaseMs: number;
  log: FastifyBaseLogger;
  metrics?: Pick<DeliveryMetrics, 'storeError'>;
}
