/** Trigger campaigns and their log. */
import type { Campaign, CampaignLogEntry } from '../../core/types.ts';
import type { Row, SqlDriver } from '../driver.ts';
import { COUNT_CAP } from './catalog.ts';
import { json, uniqueName } from './rows.ts';

const toCampaign = (r: Row): Campaign => ({
  id: r.id as number,
  name: r.name as string,
  is_active: r.is_active === 1,
  trigger_type: r.trigger_type as Campaign['trigger_type'],
  send_channel: r.send_channel as Campaign['send_channel'],
  resource_id: r.resource_id as number,
  db_id: r.db_id as number,
  content: json(r.content),
  skip_minutes: r.skip_minutes as number,
  subid: (r.subid as string | null) ?? null,
  unconditional_sending: r.unconditional_sending === 1,
  transactional: r.transactional === 1,
  attributes: json(r.attributes),
  content_filter: json(r.content_filter),
  link_key: r.link_key as string,
  created_at: r.created_at as number,
  updated_at: r.updated_at as number,
});

export type CampaignFields = Omit<Campaign, 'id' | 'created_at' | 'updated_at'>;

const campaignValues = (c: CampaignFields) => [
  c.name,
  c.is_active,
  c.trigger_type,
  c.send_channel,
  c.resource_id,
  c.db_id,
  JSON.stringify(c.content),
  c.skip_minutes,
  c.subid,
  c.unconditional_sending,
  c.transactional,
  JSON.stringify(c.attributes),
  c.content_filter && JSON.stringify(c.content_filter),
  c.link_key,
];

/** Trigger campaigns and their log. */
export interface CampaignStore {
  insertCampaign(c: CampaignFields, now: number): Promise<Campaign>;
  updateCampaign(c: Campaign): Promise<void>;
  getCampaign(id: number): Promise<Campaign | null>;
  getCampaignByLinkKey(key: string): Promise<Campaign | null>;
  /** Campaigns with id >= fromId, oldest first; total counts every campaign the filter keeps. */
  listCampaigns(q: { fromId: number; limit: number; isActive: boolean | null }): Promise<{ rows: Campaign[]; total: number }>;
  /** The databases of the campaigns that send through a resource, ascending (push_subscribe's databases). */
  databasesOfResourceCampaigns(resourceId: number): Promise<number[]>;
  appendCampaignLog(campaignId: number, level: CampaignLogEntry['level'], message: string, now: number): Promise<void>;
  /** The newest entries first. */
  listCampaignLog(campaignId: number, limit: number): Promise<CampaignLogEntry[]>;
  /** What of a campaign is still running: messages not yet sent (counted up to COUNT_CAP + 1), launches expanding, tasks open. */
  unfinishedWorkOf(campaignId: number): Promise<{ messages: number; expanding: number; tasks: number }>;
  /**
   * campaigns/delete: the campaign becomes a tombstone (deleted_at), invisible to every read above, while
   * its launches and messages (which reference it) are kept for statistics; its name is freed for a new
   * campaign. Answers whether it was there.
   */
  markCampaignDeleted(id: number, now: number): Promise<boolean>;
}

export function campaignQueries(db: SqlDriver): CampaignStore {
  return {
    async insertCampaign(c: CampaignFields, now: number): Promise<Campaign> {
      const row = await uniqueName('campaign', c.name, () =>
        db.get(
          `INSERT INTO campaigns (name, is_active, trigger_type, send_channel, resource_id, db_id, content, skip_minutes, subid,
             unconditional_sending, transactional, attributes, content_filter, link_key, created_at, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING *`,
          [...campaignValues(c), now, now],
        ),
      );
      return toCampaign(row!);
    },
    async updateCampaign(c: Campaign): Promise<void> {
      await uniqueName('campaign', c.name, () =>
        db.run(
          `UPDATE campaigns SET name = ?, is_active = ?, trigger_type = ?, send_channel = ?, resource_id = ?, db_id = ?, content = ?,
             skip_minutes = ?, subid = ?, unconditional_sending = ?, transactional = ?, attributes = ?, content_filter = ?, link_key = ?, updated_at = ?
           WHERE id = ?`,
          [...campaignValues(c), c.updated_at, c.id],
        ),
      );
    },
    async getCampaign(id: number): Promise<Campaign | null> {
      const r = await db.get('SELECT * FROM campaigns WHERE id = ? AND deleted_at IS NULL', [id]);
      return r ? toCampaign(r) : null;
    },
    async getCampaignByLinkKey(key: string): Promise<Campaign | null> {
      const r = await db.get('SELECT * FROM campaigns WHERE link_key = ? AND deleted_at IS NULL', [key]);
      return r ? toCampaign(r) : null;
    },
    async listCampaigns(q: { fromId: number; limit: number; isActive: boolean | null }): Promise<{ rows: Campaign[]; total: number }> {
      const active = q.isActive === null ? null : q.isActive ? 1 : 0;
      const rows = await db.all(
        'SELECT * FROM campaigns WHERE id >= ? AND deleted_at IS NULL AND (CAST(? AS INTEGER) IS NULL OR is_active = ?) ORDER BY id LIMIT ?',
        [q.fromId, active, active, q.limit],
      );
      const total = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM campaigns WHERE deleted_at IS NULL AND (CAST(? AS INTEGER) IS NULL OR is_active = ?)', [active, active]);
      return { rows: rows.map(toCampaign), total: total!.n };
    },

    async databasesOfResourceCampaigns(resourceId: number): Promise<number[]> {
      const rows = await db.all<{ db_id: number }>('SELECT DISTINCT db_id FROM campaigns WHERE resource_id = ? AND deleted_at IS NULL ORDER BY db_id', [resourceId]);
      return rows.map((r) => Number(r.db_id));
    },
    async appendCampaignLog(campaignId: number, level: CampaignLogEntry['level'], message: string, now: number): Promise<void> {
      await db.run('INSERT INTO campaign_log (campaign_id, level, message, time) VALUES (?, ?, ?, ?)', [campaignId, level, message, now]);
    },
    async listCampaignLog(campaignId: number, limit: number): Promise<CampaignLogEntry[]> {
      return db.all<CampaignLogEntry>('SELECT * FROM campaign_log WHERE campaign_id = ? ORDER BY id DESC LIMIT ?', [campaignId, limit]);
    },
    async unfinishedWorkOf(campaignId: number): Promise<{ messages: number; expanding: number; tasks: number }> {
      // Through the campaign's launches and the index of open messages: never a walk over all its messages.
      const r = await db.get<{ messages: number; expanding: number; tasks: number }>(
        `SELECT (SELECT COUNT(*) FROM (SELECT 1 FROM launches l JOIN messages m ON m.launch_id = l.id
                   WHERE l.campaign_id = ? AND m.status IN ('queued', 'waiting', 'sending') LIMIT ${COUNT_CAP + 1}) t) AS messages,
                (SELECT COUNT(*) FROM launches WHERE campaign_id = ? AND state = 'expanding') AS expanding,
                (SELECT COUNT(*) FROM tasks WHERE campaign_id = ? AND state IN ('queued', 'running')) AS tasks`,
        [campaignId, campaignId, campaignId],
      );
      return { messages: Number(r!.messages), expanding: Number(r!.expanding), tasks: Number(r!.tasks) };
    },
    async markCampaignDeleted(id: number, now: number): Promise<boolean> {
      // The name gets the id in front ('#4 deleted: Welcome'), unique as the id is, so that 'Welcome' can be made again.
      const changed = await db.run(
        `UPDATE campaigns SET deleted_at = ?, is_active = ?, name = '#' || CAST(id AS TEXT) || ' deleted: ' || name, updated_at = ? WHERE id = ? AND deleted_at IS NULL`,
        [now, false, now, id],
      );
      return changed === 1;
    },
  };
}
