/** launches/get and launches/list (a launch's progress, the Launch-Id of a trigger call), messages/stats (the console's overview), outbox/attachment. */
import type { FastifyInstance } from 'fastify';
import { getLaunchView, listLaunchViews, messageStats, outboxAttachment } from '../../engine/launches.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { bigId, id, int, object, toId } from '../schemas.ts';

const V = '/api/v1.1';

export function launchRoutes(app: FastifyInstance, store: Store): void {
  method<{ id: number }>(app, `${V}/launches/get`, 'launches', {
    summary: "A launch's state and its messages counted by status",
    description:
      'The id is the Launch-Id header of a trigger call. data: {id, campaign_id, kind, state, total, counts: {queued, waiting, sending, sent, failed, skipped}, ' +
      'complete, created, updated}; complete is true once nothing is left to expand or deliver.',
    body: object({ id: bigId('Launch id (the Launch-Id header of a trigger call)') }, ['id']),
    handler: async (body) => ({ data: await getLaunchView(store, body.id) }),
  });

  method<{ campaign_id?: number | string; cursor?: number; limit?: number }>(app, `${V}/launches/list`, 'launches', {
    summary: 'Launches, newest first, of one campaign or all, each as launches/get shows it; next_cursor pages on',
    body: object({
      campaign_id: id('Campaign id'),
      cursor: bigId('next_cursor of the previous page'),
      limit: int('At most this many (default 20)', 1, 100),
    }),
    handler: async (body) => {
      const campaign = body.campaign_id === undefined ? null : toId(body.campaign_id, 'campaign_id');
      const { launches, next_cursor } = await listLaunchViews(store, campaign, body.cursor ?? null, body.limit ?? 20);
      return { data: launches, extra: next_cursor === null ? {} : { next_cursor } };
    },
  });

  method<Record<string, never>>(app, `${V}/messages/stats`, 'messages', {
    summary: 'Messages made in the last hour and day by channel and status, and the queue',
    description:
      'data: {time, last_hour: {email: {queued, waiting, sending, sent, failed, skipped}, sms: {...}, push: {...}}, last_day: {...}, ' +
      'queue: {queued, waiting, sending, oldest_queued_seconds}}. A window counts the messages created in it, by their status now.',
    body: object({}),
    handler: async () => ({ data: await messageStats(store, Date.now()) }),
  });

  method<{ id: number; index: number }>(app, `${V}/outbox/attachment`, 'outbox', {
    summary: 'An attachment of a captured email: {name, mime, size, data: "data:<mime>;base64,..."}',
    body: object({ id: bigId('Outbox entry id'), index: int('Which attachment, from 0, in the order of extra.attachments', 0, 1000) }, ['id', 'index']),
    handler: async (body) => ({ data: await outboxAttachment(store, body.id, body.index) }),
  });
}
