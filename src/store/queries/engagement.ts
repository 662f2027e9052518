/**
 * What recipients do with a message after it is sent, through its public links: unsubscribe, open, click.
 * Each is written in the caller's transaction with its consequences: the message's counters and history
 * (a bounded number of entries), the subscription's status, the campaign log, the webhook event (the
 * transactional outbox, as for every other event). And the key those links are signed with.
 */
import { randomBytes } from 'node:crypto';
import { appendToHistory } from '../../core/history.ts';
import type { HistoryEntry } from '../../core/types.ts';
import { messageEventData, type WebhookEventType } from '../../core/webhooks.ts';
import type { Row, SqlDriver } from '../driver.ts';
import { appendJsonItem, json } from './rows.ts';
import { writeEvent } from './webhooks.ts';


export interface Engagement {
  /** Marked as a machine's (a privacy proxy, a link scanner, a fetch at once): counted apart. */
  machine: boolean;
  /** Shown in the history: the clicked URL, the truncated client address, the user agent. */
  detail: string;
  /** A click's target. */
  url?: string;
}

/** Opens and clicks counted: unique (messages opened or clicked at least once by a person), total, a machine's; unsubscribes. */
export interface EngagementCounts {
  opened: number;
  opens: number;
  machine_opens: number;
  clicked: number;
  clicks: number;
  machine_clicks: number;
  unsubscribed: number;
}

export type UnsubscribeResult = { outcome: 'unsubscribed' | 'already'; campaignId: number } | null;

export interface EngagementStore {
  /** The key public links are signed with: made by the first process that asks, the same for all after. */
  linkKey(): Promise<Buffer>;
  /**
   * The subscription message `id` went to becomes unsubscribed, once: a repeat (a replayed one-click POST)
   * answers 'already' and writes nothing. Null: no such message.
   */
  unsubscribeByMessage(id: number, now: number): Promise<UnsubscribeResult>;
  /** An open or a click of message `id`, as `judge` reads it knowing when the message was sent; false: no such message. */
  recordEngagement(id: number, kind: 'open' | 'click', judge: (sentAt: number | null) => Engagement, now: number): Promise<boolean>;
  /** The engagement of a campaign's messages (or one launch's), or of the messages made since a time. */
  countEngagement(f: { campaignId: number; launchId: number | null } | { since: number }): Promise<EngagementCounts>;
}

const MESSAGE_FACTS = `id, launch_id, campaign_id, profile_id, subscription_id, channel, address, status, skip_reason, last_error, custom_data,
  unsubscribed_at`;

const history = (status: string, now: number, detail: string) => JSON.stringify({ status, time: now, detail } as unknown as HistoryEntry);

/** A message.* event about row `m` (the MESSAGE_FACTS columns), with the launch's custom_data when the message has none of its own. */
export async function messageEvent(db: SqlDriver, type: WebhookEventType, m: Row, now: number, extra: Record<string, unknown>): Promise<void> {
  const facts = { ...m, id: Number(m.id), launch_id: Number(m.launch_id), campaign_id: Number(m.campaign_id) } as unknown as Parameters<typeof messageEventData>[0];
  await writeEvent(db, type, facts.campaign_id, facts.launch_id, async () => {
    const own = json(m.custom_data);
    const launch = own ?? json((await db.get<{ custom_data: string | null }>('SELECT custom_data FROM launches WHERE id = ?', [facts.launch_id]))?.custom_data ?? null);
    return { ...messageEventData(facts, launch), ...extra };
  }, now);
}

export function engagementQueries(db: SqlDriver): EngagementStore {
  return {
    async linkKey(): Promise<Buffer> {
      await db.run('INSERT INTO settings (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING', ['link_key', randomBytes(32).toString('base64')]);
      const row = await db.get<{ value: string }>('SELECT value FROM settings WHERE name = ?', ['link_key']);
      return Buffer.from(row!.value, 'base64');
    },

    async unsubscribeByMessage(id: number, now: number): Promise<UnsubscribeResult> {
      const m = await db.get(`SELECT ${MESSAGE_FACTS} FROM messages WHERE id = ?`, [id]);
      if (!m) return null;
      const campaignId = Number(m.campaign_id);
      if (m.unsubscribed_at !== null) return { outcome: 'already', campaignId };
      const entry = history('unsubscribed', now, 'through the link in the message (List-Unsubscribe or {unsubscribe})');
      // The entry twice: appendJsonItem names its item in both branches.
      await db.run(`UPDATE messages SET unsubscribed_at = ?, history = ${appendJsonItem('history', '?')}, updated_at = ? WHERE id = ?`, [now, entry, entry, now, id]);
      if (m.subscription_id !== null) await db.run("UPDATE subscriptions SET status = 'unsubscribed', updated_at = ? WHERE id = ?", [now, m.subscription_id as number]);
      await db.run('INSERT INTO campaign_log (campaign_id, level, message, time) VALUES (?, ?, ?, ?)', [
        campaignId,
        'info',
        `message ${id}: its recipient unsubscribed (subscription ${m.subscription_id ?? 'none'})`,
        now,
      ]);
      await messageEvent(db, 'message.unsubscribed', m, now, { subscription_id: m.subscription_id === null ? null : Number(m.subscription_id) });
      return { outcome: 'unsubscribed', campaignId };
    },

    async countEngagement(f: { campaignId: number; launchId: number | null } | { since: number }): Promise<EngagementCounts> {
      const [where, params] =
        'since' in f
          ? ['created_at >= ?', [f.since]]
          : f.launchId === null
            ? ['campaign_id = ?', [f.campaignId]]
            : ['campaign_id = ? AND launch_id = ?', [f.campaignId, f.launchId]];
      const r = await db.get(
        `SELECT SUM(CASE WHEN opens > 0 THEN 1 ELSE 0 END) AS opened, SUM(opens) AS opens, SUM(machine_opens) AS machine_opens,
           SUM(CASE WHEN clicks > 0 THEN 1 ELSE 0 END) AS clicked, SUM(clicks) AS clicks, SUM(machine_clicks) AS machine_clicks,
           SUM(CASE WHEN unsubscribed_at IS NOT NULL THEN 1 ELSE 0 END) AS unsubscribed
         FROM messages WHERE ${where}`,
        params,
      );
      const n = (k: string) => Number(r?.[k] ?? 0);
      return { opened: n('opened'), opens: n('opens'), machine_opens: n('machine_opens'), clicked: n('clicked'), clicks: n('clicks'), machine_clicks: n('machine_clicks'), unsubscribed: n('unsubscribed') };
    },

    async recordEngagement(id: number, kind: 'open' | 'click', judge: (sentAt: number | null) => Engagement, now: number): Promise<boolean> {
      // Locked on PostgreSQL: two clicks at once each add their entry to the history they read.
      const m = await db.get(`SELECT ${MESSAGE_FACTS}, sent_at, history FROM messages WHERE id = ?${db.dialect === 'postgres' ? ' FOR UPDATE' : ''}`, [id]);
      if (!m) return false;
      const e = judge(m.sent_at === null ? null : Number(m.sent_at));
      const counter = `${e.machine ? 'machine_' : ''}${kind === 'open' ? 'opens' : 'clicks'}`;
      const status = kind === 'open' ? 'opened' : 'clicked';
      // A scanner may fetch a link thousands of times: the counters count them all, the history is capped (core/history.ts).
      const entry = { status, time: now, detail: `${e.machine ? 'machine: ' : ''}${e.detail}` } as unknown as HistoryEntry;
      await db.run(`UPDATE messages SET ${counter} = ${counter} + 1, history = ?, updated_at = ? WHERE id = ?`, [
        JSON.stringify(appendToHistory(json<HistoryEntry[]>(m.history) ?? [], [entry])),
        now,
        id,
      ]);
      if (!e.machine) await messageEvent(db, kind === 'open' ? 'message.opened' : 'message.clicked', m, now, kind === 'click' ? { url: e.url } : {});
      return true;
    },
  };
}
