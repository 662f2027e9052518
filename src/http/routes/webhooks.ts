/**
 * webhooks/add, list, get, update, delete, deliveries and redeliver. The secret is answered by add
 * (and by update when it sets or rotates one), never by list or get.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Config } from '../../config.ts';
import { toId } from '../../core/ids.ts';
import { WEBHOOK_EVENTS } from '../../core/webhooks.ts';
import type { Wake } from '../../engine/loops.ts';
import { addWebhook, deleteWebhook, listDeliveries, loadWebhook, redeliver, testWebhook, updateWebhook, webhookView, type SignedPost, type WebhookDeps } from '../../engine/webhooks.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, anyObject, array, bigId, bool, filters, id, idOut, int, list, nullable, object, oneOf, str, text } from '../schemas.ts';

const DELIVERY_STATUSES = ['queued', 'sending', 'delivered', 'failed'] as const;

const events = Type.Array(oneOf([...WEBHOOK_EVENTS, '*']), { minItems: 1, maxItems: 16, description: `Event types: ${WEBHOOK_EVENTS.join(', ')}, or "*" for all` });
const campaignIds = Type.Unsafe<(number | string)[] | null>({
  ...array(id('Campaign id'), 'Campaigns whose events it takes (an action hook); absent or null for every campaign', 1000),
  type: ['array', 'null'],
});
const url = str('The http:// or https:// URL events are posted to', 2048);
const secret = str('whsec_ and the base64 of 24 to 64 random bytes; made for you when absent', 100);
const byId = object({ id: id('Webhook id') }, ['id']);

const count = (description: string) => Type.Integer({ description });
const webhookProperties = {
  id: idOut('Webhook id'),
  url: text('Where events are posted'),
  events: list(text('Event type'), 'Event types it takes ("*": all)'),
  campaign_ids: Type.Unsafe<number[] | null>({ type: ['array', 'null'], items: { type: 'integer' }, description: 'Campaigns whose events it takes; null for every campaign' }),
  enabled: bool('Events are posted to it'),
  disabled: nullable('string', 'When it was disabled (ISO 8601), or null'),
  disabled_reason: nullable('string', 'Why it was disabled'),
  failing_since: nullable('string', 'Since when its deliveries fail (ISO 8601), or null'),
  created: text('Created (ISO 8601)'),
  updated: text('Updated (ISO 8601)'),
};
const webhook = answer(webhookProperties, 'A webhook endpoint (without its secret)');
const delivery = answer(
  {
    id: count('Delivery id'),
    webhook_id: count('Webhook id'),
    event_id: text('Event id (the webhook-id header)'),
    type: text('Event type'),
    status: text(DELIVERY_STATUSES.join(', ')),
    attempts: list(
      answer({ time: text('When (ISO 8601)'), status_code: nullable('integer', 'HTTP status answered'), error: nullable('string', 'What failed'), ms: count('Milliseconds taken') }),
      'Attempts, oldest first',
    ),
    next_attempt: nullable('string', 'Next attempt of a queued delivery (ISO 8601)'),
    last_status_code: nullable('integer', 'HTTP status of the last attempt'),
    last_error: nullable('string', "The last attempt's error"),
    created: text('Created (ISO 8601)'),
    updated: text('Updated (ISO 8601)'),
    payload: anyObject('The event posted'),
  },
  'A delivery of an event to the endpoint',
);

export interface WebhookOptions {
  store: Store;
  config: Pick<Config, 'webhooks' | 'egress'>;
  wake: Wake;
  /** webhooks/test posts with it. */
  testPost: SignedPost;
}

export const webhookRoutes: FastifyPluginAsyncTypebox<WebhookOptions> = async (app, { store, config, wake, testPost }) => {
  const deps: WebhookDeps = { store, denyPrivate: config.egress.denyPrivate, wake };

  method(app, '/webhooks/add', 'webhooks', {
    summary: 'Add an endpoint that events are posted to, signed per Standard Webhooks; answers its id and secret',
    body: object({ url, events, campaign_ids: campaignIds, secret }, ['url', 'events']),
    data: answer({ id: idOut('The new webhook'), secret: text('The signing secret: keep it, it is not answered again') }),
    handler: async (body) => ({ data: await addWebhook(deps, body) }),
  });

  method(app, '/webhooks/list', 'webhooks', {
    summary: 'Every endpoint (without secrets)',
    body: object({}),
    data: list(webhook, 'Endpoints'),
    handler: async () => ({ data: (await store.listWebhooks()).map(webhookView) }),
  });

  method(app, '/webhooks/get', 'webhooks', {
    summary: 'One endpoint (without its secret)',
    body: byId,
    data: webhook,
    errors: [404],
    handler: async (body) => ({ data: webhookView(await loadWebhook(store, toId(body.id))) }),
  });

  method(app, '/webhooks/update', 'webhooks', {
    summary: 'Change an endpoint: url, events, campaign_ids, secret (or rotate_secret), enabled',
    body: object(
      {
        id: id('Webhook id'),
        url,
        events,
        campaign_ids: campaignIds,
        secret,
        rotate_secret: bool('Make a new secret (answered in data.secret)'),
        enabled: bool('false stops events for it; true turns a disabled endpoint back on'),
      },
      ['id'],
    ),
    data: answer({ ...webhookProperties, secret: Type.Optional(text('The new secret, when this call set or rotated it')) }, 'The endpoint as it is now'),
    errors: [404],
    handler: async (body) => ({ data: await updateWebhook(deps, toId(body.id), body) }),
  });

  method(app, '/webhooks/delete', 'webhooks', {
    summary: 'Delete an endpoint and its deliveries',
    body: byId,
    data: Type.Null(),
    errors: [404],
    handler: async (body) => {
      await deleteWebhook(store, toId(body.id));
      return { data: null };
    },
  });

  method(app, '/webhooks/deliveries', 'webhooks', {
    summary: "An endpoint's deliveries, newest first, each with its attempts (time, HTTP status, error); next_cursor pages on",
    body: filters(
      { id: id('Webhook id'), status: oneOf(DELIVERY_STATUSES), cursor: bigId('next_cursor of the previous page'), limit: int('At most this many (default 100)', 1, 1000) },
      ['id'],
    ),
    data: list(delivery, 'Deliveries'),
    extra: { next_cursor: Type.Optional(Type.Integer({ description: 'cursor of the next page; absent on the last page' })) },
    errors: [404],
    handler: async (body) => {
      const page = await listDeliveries(store, toId(body.id), body.status, body.cursor ?? null, body.limit ?? 100);
      return { data: page.rows, extra: page.nextCursor === null ? {} : { next_cursor: page.nextCursor } };
    },
  });

  method(app, '/webhooks/redeliver', 'webhooks', {
    summary: 'Post deliveries again: those named (failed or delivered), or every failed one of the endpoint',
    body: object(
      { id: id('Webhook id'), delivery_ids: Type.Array(bigId('Delivery id'), { minItems: 1, maxItems: 10_000, description: 'Delivery ids' }), status: oneOf(['failed']) },
      ['id'],
    ),
    data: answer({ queued: count('Deliveries queued again') }),
    errors: [404],
    handler: async (body) => ({ data: { queued: await redeliver(deps, toId(body.id), body.delivery_ids, body.status) } }),
  });

  method(app, '/webhooks/test', 'webhooks', {
    summary: 'Post a signed webhook.test event to the endpoint now and answer what it said; nothing is stored or retried',
    body: byId,
    data: answer({
      ok: bool('true: the endpoint answered 2xx'),
      status_code: nullable('integer', "The endpoint's HTTP status; null when it gave none"),
      error: nullable('string', 'Why the post failed (timeout, refused, private address...)'),
      ms: count('How long the post took'),
    }),
    errors: [404],
    handler: async (body) => ({ data: await testWebhook(store, toId(body.id), testPost) }),
  });
};
