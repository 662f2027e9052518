/** launches/get and launches/list (a launch's progress, the Launch-Id of a trigger call), messages/stats (the console's overview), outbox/attachment. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toId } from '../../core/ids.ts';
import { MESSAGE_STATUSES } from '../../core/types.ts';
import { getLaunchView, listLaunchViews, messageStats, outboxAttachment } from '../../engine/launches.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, bigId, engagementCounts, filters, id, int, list, nullable, object, text } from '../schemas.ts';

const count = (description: string) => Type.Integer({ description });
/** Messages by status: every status, 0 when none. */
const byStatus = (description: string) => answer(Object.fromEntries(MESSAGE_STATUSES.map((s) => [s, count(s)])), description);

const launch = answer(
  {
    id: count('Launch id'),
    campaign_id: count('Campaign id'),
    kind: text('start, start_batch, import_and_start_batch, their _task forms, or v1 (a link)'),
    state: text('expanding, done, filtered, failed or aborted'),
    total: count('Messages made so far'),
    counts: byStatus('Its messages by status'),
    complete: Type.Boolean({ description: 'Nothing is left to expand or deliver' }),
    created: text('Created (ISO 8601)'),
    updated: text('Updated (ISO 8601)'),
  },
  'A launch and its progress',
);

/** Counts by channel (email, sms, push), each by status. */
const byChannel = (description: string) =>
  Type.Unsafe<Record<string, Record<string, number>>>({
    type: 'object',
    properties: { email: byStatus('Email'), sms: byStatus('SMS'), push: byStatus('Push') },
    additionalProperties: byStatus('Another channel'),
    description,
  });

export const launchRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
  method(app, '/launches/get', 'launches', {
    summary: "A launch's state and its messages counted by status",
    description:
      'The id is the Launch-Id header of a trigger call. data: {id, campaign_id, kind, state, total, counts: {queued, waiting, sending, sent, captured, delivered, undelivered, failed, skipped}, ' +
      'complete, created, updated}; complete is true once nothing is left to expand or deliver.',
    body: object({ id: bigId('Launch id (the Launch-Id header of a trigger call)') }, ['id']),
    data: launch,
    errors: [404],
    handler: async (body) => ({ data: await getLaunchView(store, body.id) }),
  });

  method(app, '/launches/list', 'launches', {
    summary: 'Launches, newest first, of one campaign or all, each as launches/get shows it; next_cursor pages on',
    body: filters({
      campaign_id: id('Campaign id'),
      cursor: bigId('next_cursor of the previous page'),
      limit: int('At most this many (default 20)', 1, 100),
    }),
    data: list(launch, 'Launches'),
    extra: { next_cursor: Type.Optional(Type.Integer({ description: 'cursor of the next page; absent on the last page' })) },
    handler: async (body) => {
      const campaign = body.campaign_id === undefined ? null : toId(body.campaign_id, 'campaign_id');
      const { launches, next_cursor } = await listLaunchViews(store, campaign, body.cursor ?? null, body.limit ?? 20);
      return { data: launches, extra: next_cursor === null ? {} : { next_cursor } };
    },
  });

  method(app, '/messages/stats', 'messages', {
    summary: 'Messages made in the last hour and day by channel and status, and the queue',
    description:
      'data: {time, last_hour: {email: {queued, waiting, sending, sent, captured, failed, skipped, ...}, sms: {...}, push: {...}}, last_day: {...}, ' +
      'queue: {queued, waiting, sending, oldest_queued_seconds}, send_limits: [{resource_id, channel, next_slot_seconds}], engagement: {last_hour, last_day}, store_bytes}. A window counts the messages created in it, by their status now.',
    body: object({}),
    data: answer({
      time: text('Now (ISO 8601)'),
      last_hour: byChannel('Messages made in the last hour, by channel and status now'),
      last_day: byChannel('Messages made in the last day, by channel and status now'),
      queue: answer({
        queued: count('Queued'),
        waiting: count('Waiting for a retry, or held by a sending limit'),
        sending: count('Being sent'),
        oldest_queued_seconds: nullable('integer', 'Age of the oldest due message; null when none'),
      }),
      send_limits: list(
        answer({ resource_id: Type.Integer({ description: 'Resource id' }), channel: text('email or sms'), next_slot_seconds: Type.Integer({ description: 'Seconds until its next free send slot' }) }),
        "Resources whose next send slot is later than now (a backlog under email.limits or sms.limits, or a relay's back-off): the wait their messages meet",
      ),
      engagement: answer(
        { last_hour: engagementCounts('Of the messages made in the last hour'), last_day: engagementCounts('Of the messages made in the last day') },
        'Opens, clicks and unsubscribes of the messages made in the last hour and day',
      ),
      store_bytes: Type.Integer({ description: "The store's size in bytes (SQLite: the file and its WAL; PostgreSQL: the schema's tables)" }),
    }),
    handler: async () => ({ data: await messageStats(store, Date.now()) }),
  });

  method(app, '/outbox/attachment', 'outbox', {
    summary: 'An attachment of a captured email: {name, mime, size, sha256, data: "data:<mime>;base64,..."}',
    body: object({ id: bigId('Outbox entry id'), index: int('Which attachment, from 0, in the order of extra.attachments', 0, 1000) }, ['id', 'index']),
    data: answer({ name: text('File name'), mime: text('MIME type'), size: count('Bytes'), sha256: nullable('string', 'SHA-256 of the bytes (hex), taken when the call was decoded; null for files stored before Salvo kept it'), data: text('data:<mime>;base64,<data>') }),
    errors: [404],
    handler: async (body) => ({ data: await outboxAttachment(store, body.id, body.index) }),
  });
};
