/** messages/list, messages/get and messages/retry (the message log), outbox/list and outbox/get (the capture outbox). */
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../../core/errors.ts';
import { CHANNELS, MESSAGE_STATUSES, type Message } from '../../core/types.ts';
import { iso } from '../../support/time.ts';
import type { OutboxEntry } from '../../store/queries/outbox.ts';
import type { LaunchDeps } from '../../engine/launch.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { array, bigId, id, int, object, str, toId } from '../schemas.ts';

const V = '/api/v1.1';
const cursor = bigId('next_cursor of the previous page');
const isoOrNull = (ms: number | null) => (ms === null ? null : iso(ms));
/** Messages messages/retry re-drives in one call at most; `more: true` says to call again. */
const REDRIVE_LIMIT = 10_000;

const messageView = (m: Message) => ({
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
});

const outboxView = ({ raw: _raw, created_at, ...e }: OutboxEntry) => ({ ...e, created: iso(created_at) });

/** A page of newest-first rows and the cursor of the next one. */
function page<T extends { id: number }>(rows: T[], limit: number) {
  const extra = rows.length > limit ? { next_cursor: rows[limit - 1].id } : {};
  return { rows: rows.slice(0, limit), extra };
}

export function messageRoutes(app: FastifyInstance, store: Store, wake: LaunchDeps['wake']): void {
  type ListBody = {
    campaign_id?: number | string;
    launch_id?: number;
    profile_id?: string;
    status?: Message['status'];
    channel?: Message['channel'];
    provider_message_id?: string;
    cursor?: number;
    limit?: number;
  };
  method<ListBody>(app, `${V}/messages/list`, 'messages', {
    summary: 'Messages, newest first, by campaign, launch, profile, status, channel or provider message id; next_cursor pages on',
    body: object({
      campaign_id: id('Campaign id'),
      launch_id: bigId('Launch id (the Launch-Id header of a start)'),
      profile_id: str('Profile id', 24),
      status: { type: 'string', enum: [...MESSAGE_STATUSES], description: 'Message status (delivered and undelivered come from SMS delivery receipts)' },
      provider_message_id: str("The provider's id for the message (the SMSC's message_id of an SMS's first part)", 128),
      channel: { type: 'string', enum: [...CHANNELS], description: 'Channel' },
      cursor,
      limit: int('At most this many (default 100)', 1, 1000),
    }),
    handler: async (body) => {
      const limit = body.limit ?? 100;
      const filter = { ...body, campaign_id: body.campaign_id === undefined ? undefined : toId(body.campaign_id, 'campaign_id') };
      const { rows, extra } = page(await store.listMessages(filter, body.cursor ?? null, limit + 1), limit);
      return { data: rows.map(messageView), extra };
    },
  });

  method<{ id: number }>(app, `${V}/messages/get`, 'messages', {
    summary: 'One message: status history, attempts, last error, what was sent, attachment names, custom_data',
    body: object({ id: bigId('Message id') }, ['id']),
    handler: async (body) => {
      const m = await store.getMessage(body.id);
      if (!m) throw notFound(`message ${body.id} not found`);
      const launch = await store.getLaunch(m.launch_id);
      return {
        data: {
          ...messageView(m),
          history: m.history.map((h) => ({ ...h, time: iso(h.time) })),
          subject: m.subject,
          body: m.body,
          attachments: await store.attachmentNames(m.launch_id),
          content: launch?.content ?? null,
          custom_data: m.custom_data ?? launch?.custom_data ?? null,
          overrides: m.overrides,
        },
      };
    },
  });

  type RetryBody = { ids?: number[]; launch_id?: number; campaign_id?: number | string; status?: 'failed'; limit?: number };
  method<RetryBody>(app, `${V}/messages/retry`, 'messages', {
    summary: 'Re-drive failed messages: queue them again with a full set of attempts',
    description:
      'Failed messages named by ids, or those of a launch or a campaign (several narrow each other), are queued again at once: ' +
      'attempts start again from 0, last_error is kept and the history records the re-drive. Sent, queued, waiting, sending and skipped ' +
      `messages are never touched. At most limit (${REDRIVE_LIMIT}) per call; data.more is true when more failed messages are left.`,
    body: object({
      ids: { ...array(bigId('Message id'), 'Message ids', REDRIVE_LIMIT), minItems: 1 },
      launch_id: bigId('Launch id'),
      campaign_id: id('Campaign id'),
      status: { type: 'string', enum: ['failed'], description: 'Which messages to re-drive: only failed ones can be' },
      limit: int(`At most this many (default and maximum ${REDRIVE_LIMIT})`, 1, REDRIVE_LIMIT),
    }),
    handler: async (body, req) => {
      if (body.ids === undefined && body.launch_id === undefined && body.campaign_id === undefined) {
        throw badRequest("one of the fields 'ids', 'launch_id' or 'campaign_id' is required");
      }
      const filter = { ids: body.ids, launch_id: body.launch_id, campaign_id: body.campaign_id === undefined ? undefined : toId(body.campaign_id, 'campaign_id') };
      const entry = { status: 'queued' as const, time: Date.now(), detail: `re-driven by messages/retry (token ${req.tokenName})` };
      const { queued, more } = await store.redriveFailed(filter, entry, body.limit ?? REDRIVE_LIMIT);
      if (queued) wake('messages');
      return { data: { queued, more } };
    },
  });

  method<{ recipient?: string; channel?: string; message_id?: number; cursor?: number; limit?: number }>(app, `${V}/outbox/list`, 'outbox', {
    summary: 'Messages captured in the outbox (email without SALVO_SMTP_URL, SMS, push), newest first',
    body: object({
      recipient: str('Email address, phone or push subscription id', 4096),
      channel: { type: 'string', enum: ['email', 'sms', 'push'] },
      message_id: bigId('Message id'),
      cursor,
      limit: int('At most this many (default 100)', 1, 1000),
    }),
    handler: async (body) => {
      const limit = body.limit ?? 100;
      const { rows, extra } = page(await store.listOutbox(body, body.cursor ?? null, limit + 1), limit);
      return { data: rows.map(outboxView), extra };
    },
  });

  method<{ id: number }>(app, `${V}/outbox/get`, 'outbox', {
    summary: 'One captured message, with the MIME text of an email (raw)',
    body: object({ id: bigId('Outbox entry id') }, ['id']),
    handler: async (body) => {
      const e = await store.getOutbox(body.id);
      if (!e) throw notFound(`outbox entry ${body.id} not found`);
      return { data: { ...outboxView(e), raw: e.raw } };
    },
  });
}
