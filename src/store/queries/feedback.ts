/**
 * Recording what Salvo learns of an email after it was sent (core/feedback.ts): a bounce, a complaint, a
 * delivery. Each is written in the caller's transaction with its consequences: the message's status and
 * history, the subscription's status, the campaign log, the webhook event, and a row in email_feedback,
 * by which a repeat (the same report twice, a service's retried post) changes nothing.
 */
import { type EmailFeedback, type FeedbackResult, feedbackDetail, type SoftBounceRule } from '../../core/feedback.ts';
import { appendToHistory } from '../../core/history.ts';
import type { HistoryEntry } from '../../core/types.ts';
import type { Param, Row, SqlDriver } from '../driver.ts';
import { messageEvent } from './engagement.ts';
import { json } from './rows.ts';

export interface FeedbackStore {
  /** Records feedback `f` about message `id` (a hard bounce, soft bounce, complaint or delivery) and what it leads to. */
  recordEmailFeedback(id: number, f: EmailFeedback, rule: SoftBounceRule, now: number): Promise<FeedbackResult>;
}

const FACTS = 'id, launch_id, campaign_id, profile_id, subscription_id, channel, address, status, skip_reason, last_error, custom_data, history';

/** email_feedback.kind of a feedback. */
const kindOf = (f: EmailFeedback) => (f.kind === 'bounce' ? (f.permanent ? 'bounce' : 'soft_bounce') : f.kind);

export function feedbackQueries(db: SqlDriver): FeedbackStore {
  /** Adds an entry to message `m`'s history, capped as every history is (core/history.ts): reports of distinct status codes could otherwise grow it. */
  const appendHistory = async (m: Row, status: string, detail: string, now: number, set = '', params: Param[] = []) => {
    // History also tells what happened after the send (soft_bounce, complained): not message statuses.
    const entry = { status, time: now, detail } as unknown as HistoryEntry;
    const history = JSON.stringify(appendToHistory(json<HistoryEntry[]>(m.history) ?? [], [entry]));
    await db.run(`UPDATE messages SET ${set}history = ?, updated_at = ? WHERE id = ?`, [...params, history, now, m.id as number]);
  };
  const setSubscription = async (m: Row, status: string, now: number) => {
    if (m.subscription_id === null) return;
    await db.run('UPDATE subscriptions SET status = ?, updated_at = ? WHERE id = ? AND status <> ?', [status, now, m.subscription_id as number, status]);
  };
  const log = (m: Row, text: string, now: number) =>
    db.run('INSERT INTO campaign_log (campaign_id, level, message, time) VALUES (?, ?, ?, ?)', [m.campaign_id as number, 'warning', `message ${m.id}: ${text}`, now]);

  return {
    async recordEmailFeedback(id: number, f: EmailFeedback, rule: SoftBounceRule, now: number): Promise<FeedbackResult> {
      // Locked on PostgreSQL: two reports at once each add their entry to the history they read.
      const m = await db.get(`SELECT ${FACTS} FROM messages WHERE id = ?${db.dialect === 'postgres' ? ' FOR UPDATE' : ''}`, [id]);
      if (!m) return 'no_message';
      if (m.channel !== 'email') return 'not_email';
      const kind = kindOf(f);
      const status = f.kind === 'bounce' ? f.status : null;
      const seen = await db.get('SELECT 1 AS x FROM email_feedback WHERE message_id = ? AND kind = ? AND status_code IS NOT DISTINCT FROM ? LIMIT 1', [id, kind, status]);
      if (seen) return 'repeated';
      const detail = feedbackDetail(f);
      // The campaign log outlives an erasure of the person: no diagnostic there (it names the address).
      const summary = f.kind === 'bounce' ? feedbackDetail({ ...f, diagnostic: null }) : detail;
      await db.run('INSERT INTO email_feedback (message_id, subscription_id, kind, status_code, detail, source, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        id,
        (m.subscription_id as number | null) ?? null,
        kind,
        status,
        detail,
        f.source,
        now,
      ]);
      const subscription = m.subscription_id === null ? null : Number(m.subscription_id);

      if (kind === 'bounce') {
        // A late bounce ends a message that was sent (or reported delivered by a relay): it never arrived.
        const ends = m.status === 'sent' || m.status === 'delivered';
        if (ends) await appendHistory(m, 'undelivered', detail, now, 'status = ?, last_error = ?, ', ['undelivered', detail]);
        else await appendHistory(m, 'bounced', detail, now);
        await setSubscription(m, 'hardbounced', now);
        await log(m, `${summary}; subscription ${subscription ?? 'none'} is hardbounced`, now);
        await messageEvent(db, 'message.bounced', { ...m, status: ends ? 'undelivered' : m.status, last_error: detail }, now, { subscription_id: subscription, bounce: f });
        return 'recorded';
      }
      if (kind === 'soft_bounce') {
        await appendHistory(m, 'soft_bounce', detail, now);
        let suspended = false;
        if (m.subscription_id !== null) {
          const row = await db.get<{ n: number }>(
            "SELECT COUNT(DISTINCT message_id) AS n FROM email_feedback WHERE subscription_id = ? AND kind = 'soft_bounce' AND created_at >= ?",
            [m.subscription_id as number, now - rule.windowMs],
          );
          if (Number(row?.n ?? 0) >= rule.limit) {
            suspended = (await db.run("UPDATE subscriptions SET status = 'suspended', updated_at = ? WHERE id = ? AND status = 'subscribed'", [now, m.subscription_id as number])) > 0;
          }
        }
        if (suspended) await log(m, `${summary}; subscription ${subscription} is suspended after ${rule.limit} soft bounces`, now);
        await messageEvent(db, 'message.soft_bounced', m, now, { subscription_id: subscription, bounce: f, subscription_suspended: suspended });
        return 'recorded';
      }
      if (kind === 'complaint') {
        await appendHistory(m, 'complained', detail, now);
        await setSubscription(m, 'complainer', now);
        await log(m, `${detail}; subscription ${subscription ?? 'none'} is complainer`, now);
        await messageEvent(db, 'message.complained', m, now, { subscription_id: subscription, feedback_type: f.kind === 'complaint' ? f.feedbackType : null });
        return 'recorded';
      }
      // A delivery: as an SMS receipt, it moves a sent message to delivered.
      if (m.status !== 'sent') {
        await appendHistory(m, 'delivered', detail, now);
        return 'recorded';
      }
      await appendHistory(m, 'delivered', detail, now, 'status = ?, ', ['delivered']);
      await messageEvent(db, 'message.delivered', { ...m, status: 'delivered' }, now, {});
      return 'recorded';
    },
  };
}
