/**
 * Recording what Salvo learns of an email after the send, from the bounce listener or an email service's
 * webhook: one transaction per report (store/queries/feedback.ts), so a report is taken whole or not at
 * all, and a failure reaches the caller (the listener answers 451 and the MTA retries; a webhook answers
 * 503 and the service retries).
 */
import type { EmailFeedback, FeedbackResult, SoftBounceRule } from '../core/feedback.ts';
import type { FeedbackStore } from '../store/queries/feedback.ts';
import type { Store } from '../store/store.ts';

export interface FeedbackDeps {
  store: Pick<Store, 'transaction'>;
  softBounces: SoftBounceRule;
  clock?: () => number;
}

export type RecordFeedback = (messageId: number, f: EmailFeedback) => Promise<FeedbackResult>;

export function feedbackRecorder(d: FeedbackDeps): RecordFeedback {
  const now = d.clock ?? Date.now;
  return (messageId, f) => d.store.transaction((tx: FeedbackStore) => tx.recordEmailFeedback(messageId, f, d.softBounces, now()));
}
