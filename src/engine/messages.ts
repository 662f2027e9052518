/**
 * The message log and the capture outbox as the API shows them: pages newest first, one message
 * with its history and what was sent, and the re-drive of failed messages.
 */
import { badRequest, notFound } from '../core/errors.ts';
import type { Message } from '../core/types.ts';
import type { MessageFilter, RedriveFilter } from '../store/queries/messages.ts';
import type { OutboxEntry } from '../store/queries/outbox.ts';
import type { LaunchStore, MessageStore, OutboxStore } from '../store/store.ts';
import { iso } from '../support/time.ts';
import type { Launching } from './launch.ts';

const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));

export const messageView = (m: Message) => ({
  id: m.id,
  launch_id: m.launch_id,
  campaign_id: m.campaign_id,
  profile_id: m.profile_id,
  channel: m.channel,
  address: m.address,
  status: m.status,
  skip_reason: m.skip_reason,
  variant: m.variant,
  template_id: m.template_id,
  attempts: m.attempts,
  last_error: m.last_error,
  next_attempt: m.status === 'waiting' ? iso(m.next_attempt_at) : null,
  created: iso(m.created_at),
  updated: iso(m.updated_at),
  sent: isoOrNull(m.sent_at),
  provider_message_id: m.provider_message_id,
  opens: m.engagement.opens,
  clicks: m.engagement.clicks,
  machine_opens: m.engagement.machine_opens,
  machine_clicks: m.engagement.machine_clicks,
  unsubscribed: isoOrNull(m.engagement.unsubscribed_at),
});

export const outboxView = ({ raw: _raw, created_at, ...e }: OutboxEntry) => ({ ...e, created: iso(created_at) });

/** A page of newest-first rows, and the cursor of the next page when there is one. */
export interface Page<T> {
  rows: T[];
  nextCursor: number | null;
}

/** Reads one row more than the page, to know whether another page follows. */
async function page<T extends { id: number }>(read: (limit: number) => Promise<T[]>, limit: number): Promise<Page<T>> {
  const rows = await read(limit + 1);
  return { rows: rows.slice(0, limit), nextCursor: rows.length > limit ? rows[limit - 1].id : null };
}

export const listMessages = (store: Pick<MessageStore, 'listMessages'>, filter: MessageFilter, cursor: number | null, limit: number): Promise<Page<Message>> =>
  page((n) => store.listMessages(filter, cursor, n), limit);

export const listOutbox = (store: Pick<OutboxStore, 'listOutbox'>, filter: { recipient?: string; channel?: string; message_id?: number }, cursor: number | null, limit: number) =>
  page((n) => store.listOutbox(filter, cursor, n), limit);

/** messages/get: the message with its history, what was sent, its launch's attachment names, content and custom_data. */
export async function messageDetail(store: Pick<MessageStore, 'getMessage'> & Pick<LaunchStore, 'getLaunch' | 'attachmentNames'>, id: number) {
  const m = await store.getMessage(id);
  if (!m) throw notFound(`message ${id} not found`);
  const launch = await store.getLaunch(m.launch_id);
  return {
    ...messageView(m),
    history: m.history.map((h) => ({ ...h, time: iso(h.time) })),
    subject: m.subject,
    body: m.body,
    sent_copy: m.sent_copy,
    attachments: await store.attachmentNames(m.launch_id),
    content: launch?.content ?? null,
    custom_data: m.custom_data ?? launch?.custom_data ?? null,
    overrides: m.overrides,
  };
}

/** outbox/get: one captured message with its MIME text. */
export async function outboxDetail(store: Pick<OutboxStore, 'getOutbox'>, id: number) {
  const e = await store.getOutbox(id);
  if (!e) throw notFound(`outbox entry ${id} not found`);
  return { ...outboxView(e), raw: e.raw };
}

/**
 * messages/retry: failed messages named by ids, a launch or a campaign are queued again with a full set
 * of attempts; the history names the token that asked.
 */
export async function redriveFailed(deps: { store: Pick<MessageStore, 'redriveFailed'>; wake: Launching['wake'] }, filter: RedriveFilter, limit: number, tokenName: string | undefined) {
  if (filter.ids === undefined && filter.launch_id === undefined && filter.campaign_id === undefined) {
    throw badRequest("one of the fields 'ids', 'launch_id' or 'campaign_id' is required");
  }
  const entry = { status: 'queued' as const, time: Date.now(), detail: `re-driven by messages/retry (token ${tokenName})` };
  const result = await deps.store.redriveFailed(filter, entry, limit);
  if (result.queued) deps.wake('messages');
  return result;
}

/**
 * messages/cancel: the named messages not yet handed to a channel (queued, or waiting for a retry) end
 * failed, "cancelled by messages/cancel"; one already being sent or done is left as it is and not counted.
 */
export async function cancelQueued(store: Pick<MessageStore, 'cancelQueued'>, ids: number[], tokenName: string | undefined) {
  const entry = { status: 'failed' as const, time: Date.now(), detail: `cancelled by messages/cancel (token ${tokenName})` };
  const cancelled = await store.cancelQueued(ids, entry);
  return { cancelled: cancelled.length, ids: cancelled };
}
