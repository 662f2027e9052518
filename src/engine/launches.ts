/** Launches as the API shows them (launches/get, launches/list), and the message counts the console's overview reads (messages/stats). */
import { notFound } from '../core/errors.ts';
import { sendLimitDelays } from '../core/send-limits.ts';
import { CHANNELS, MESSAGE_STATUSES, type Launch, type MessageStatus } from '../core/types.ts';
import type { EngagementStore } from '../store/queries/engagement.ts';
import type { LaunchStore } from '../store/queries/launches.ts';
import type { MessageStore } from '../store/queries/messages.ts';
import type { OutboxStore } from '../store/queries/outbox.ts';
import type { SendLimitStore } from '../store/queries/send-limits.ts';
import { iso } from '../support/time.ts';

type Counts = Record<MessageStatus, number>;

const zeroCounts = (): Counts => Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, 0])) as Counts;

/** Statuses still to be delivered: a launch with none of these left (and no audience left to expand) is complete. */
const PENDING: MessageStatus[] = ['queued', 'waiting', 'sending'];

async function launchView(store: Pick<MessageStore, 'countMessagesByStatus'>, l: Launch) {
  const counts = { ...zeroCounts(), ...(await store.countMessagesByStatus(l.id)) };
  const pending = PENDING.reduce((n, s) => n + counts[s], 0);
  return {
    id: l.id,
    campaign_id: l.campaign_id,
    kind: l.kind,
    state: l.state,
    total: l.total,
    counts,
    complete: l.state !== 'expanding' && pending === 0,
    created: iso(l.created_at),
    updated: iso(l.updated_at),
  };
}

export async function getLaunchView(store: Pick<LaunchStore, 'getLaunch'> & Pick<MessageStore, 'countMessagesByStatus'>, id: number) {
  const l = await store.getLaunch(id);
  if (!l) throw notFound(`launch ${id} not found`);
  return launchView(store, l);
}

/** One page, newest first; `next_cursor` when there are more. */
export async function listLaunchViews(store: Pick<LaunchStore, 'listLaunches'> & Pick<MessageStore, 'countMessagesByStatus'>, campaignId: number | null, beforeId: number | null, limit: number) {
  const rows = await store.listLaunches(campaignId, beforeId, limit + 1);
  const launches = await Promise.all(rows.slice(0, limit).map((l) => launchView(store, l)));
  return { launches, next_cursor: rows.length > limit ? rows[limit - 1].id : null };
}

/** An attachment of a captured email, as the `attach` of a trigger call gives one: a base64 data URL. */
export async function outboxAttachment(store: Pick<OutboxStore, 'getOutbox'> & Pick<MessageStore, 'getMessage'> & Pick<LaunchStore, 'getAttachments'>, outboxId: number, index: number) {
  const entry = await store.getOutbox(outboxId);
  if (!entry) throw notFound(`outbox entry ${outboxId} not found`);
  const message = await store.getMessage(entry.message_id);
  // Only email carries attachments; the captured message had exactly its launch's files.
  const a = message && entry.channel === 'email' ? (await store.getAttachments(message.launch_id))[index] : undefined;
  if (!a) throw notFound(`outbox entry ${outboxId} has no attachment ${index}`);
  return { name: a.name, mime: a.mime, size: a.data.length, sha256: a.sha256, data: `data:${a.mime};base64,${a.data.toString('base64')}` };
}

const HOUR = 3_600_000;

/** Messages made in the last hour and day, by channel and their status now; and the queue as it is. */
export async function messageStats(
  store: Pick<MessageStore, 'countMessagesSince' | 'queueStats'> & Pick<EngagementStore, 'countEngagement'> & Pick<SendLimitStore, 'pacedKeys'> & { storeBytes(): Promise<number> },
  now: number,
) {
  const byChannel = () => Object.fromEntries(CHANNELS.map((c) => [c, zeroCounts()])) as Record<string, Counts>;
  const lastHour = byChannel();
  const lastDay = byChannel();
  for (const r of await store.countMessagesSince(now - 24 * HOUR, now - HOUR)) {
    const status = r.status as MessageStatus;
    lastDay[r.channel] ??= zeroCounts();
    lastHour[r.channel] ??= zeroCounts();
    lastDay[r.channel][status] += r.n;
    lastHour[r.channel][status] += r.recent;
  }
  const q = await store.queueStats();
  const engagement = { last_hour: await store.countEngagement({ since: now - HOUR }), last_day: await store.countEngagement({ since: now - 24 * HOUR }) };
  return {
    time: iso(now),
    last_hour: lastHour,
    last_day: lastDay,
    engagement,
    store_bytes: await store.storeBytes(),
    queue: { ...q.depth, oldest_queued_seconds: q.oldestDueAt === null ? null : Math.max(0, Math.round((now - q.oldestDueAt) / 1000)) },
    send_limits: sendLimitDelays(await store.pacedKeys(now), now),
  };
}
