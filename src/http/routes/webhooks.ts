/**
 * webhooks/add, list, get, update, delete, deliveries and redeliver. The secret is answered by add
 * (and by update when it sets or rotates one), never by list or get: the store keeps it to sign with.
 */
import type { FastifyInstance } from 'fastify';
import { lookup } from 'node:dns/promises';
import { badRequest, notFound } from '../../core/errors.ts';
import { isPrivateAddress, newWebhookSecret, secretProblem, urlProblem, WEBHOOK_EVENTS } from '../../core/webhooks.ts';
import type { Config } from '../../config.ts';
import type { Wake } from '../../engine/loops.ts';
import type { DeliveryStatus, Webhook, WebhookDelivery } from '../../store/queries/webhooks.ts';
import type { Store } from '../../store/store.ts';
import { iso } from '../../support/time.ts';
import { literalPrivate } from '../../delivery/webhook-post.ts';
import { method } from '../api.ts';
import { array, bigId, bool, id, int, object, str, toId } from '../schemas.ts';

const V = '/api/v1.1';
const STATUSES = ['queued', 'sending', 'delivered', 'failed'] as const;

const webhookView = (w: Webhook) => ({
  id: w.id,
  url: w.url,
  events: w.events,
  campaign_ids: w.campaign_ids,
  enabled: w.disabled_at === null,
  disabled: w.disabled_at === null ? null : iso(w.disabled_at),
  disabled_reason: w.disabled_reason,
  failing_since: w.failing_since === null ? null : iso(w.failing_since),
  created: iso(w.created_at),
  updated: iso(w.updated_at),
});

const deliveryView = (d: WebhookDelivery) => ({
  id: d.id,
  webhook_id: d.webhook_id,
  event_id: d.event_id,
  type: d.type,
  status: d.status,
  attempts: d.history.map((a) => ({ time: iso(a.time), status_code: a.status_code, error: a.error, ms: a.ms })),
  next_attempt: d.status === 'queued' ? iso(d.next_attempt_at) : null,
  last_status_code: d.last_status_code,
  last_error: d.last_error,
  created: iso(d.created_at),
  updated: iso(d.updated_at),
  payload: JSON.parse(d.payload),
});

const eventsSchema = { ...array({ type: 'string', enum: [...WEBHOOK_EVENTS, '*'] }, `Event types: ${WEBHOOK_EVENTS.join(', ')}, or "*" for all`, 16), minItems: 1 };
const campaignIdsSchema = { ...array(id('Campaign id'), 'Campaigns whose events it takes (an action hook); absent or null for every campaign', 1000), type: ['array', 'null'] };
const url = str('The http:// or https:// URL events are posted to', 2048);
const secret = str('whsec_ and the base64 of 24 to 64 random bytes; made for you when absent', 100);

type Input = { url?: string; events?: string[]; campaign_ids?: (number | string)[] | null; secret?: string };

export function webhookRoutes(app: FastifyInstance, store: Store, config: Pick<Config, 'webhooks'>, wake: Wake): void {
  /** Checks what add and update may set; answers the campaign ids as numbers. */
  async function checked(b: Input): Promise<number[] | null | undefined> {
    if (b.url !== undefined) {
      const problem = urlProblem(b.url) ?? (config.webhooks.denyPrivate ? await privateTarget(b.url) : null);
      if (problem) throw badRequest(problem);
    }
    if (b.secret !== undefined) {
      const problem = secretProblem(b.secret);
      if (problem) throw badRequest(problem);
    }
    if (b.campaign_ids === undefined || b.campaign_ids === null) return b.campaign_ids;
    const ids = b.campaign_ids.map((c) => toId(c, 'campaign_ids'));
    for (const c of new Set(ids)) if (!(await store.getCampaign(c))) throw badRequest(`campaign ${c} in 'campaign_ids' not found`);
    return ids;
  }

  async function existing(webhookId: number): Promise<Webhook> {
    const w = await store.getWebhook(webhookId);
    if (!w) throw notFound(`webhook ${webhookId} not found`);
    return w;
  }

  method<Required<Pick<Input, 'url' | 'events'>> & Input>(app, `${V}/webhooks/add`, 'webhooks', {
    summary: 'Add an endpoint that events are posted to, signed per Standard Webhooks; answers its id and secret',
    body: object({ url, events: eventsSchema, campaign_ids: campaignIdsSchema, secret }, ['url', 'events']),
    handler: async (body) => {
      const campaignIds = await checked(body);
      const w = await store.insertWebhook({ url: body.url, events: body.events, campaign_ids: campaignIds ?? null, secret: body.secret ?? newWebhookSecret() }, Date.now());
      return { data: { id: w.id, secret: w.secret } };
    },
  });

  method<Record<string, never>>(app, `${V}/webhooks/list`, 'webhooks', {
    summary: 'Every endpoint (without secrets)',
    body: object({}),
    handler: async () => ({ data: (await store.listWebhooks()).map(webhookView) }),
  });

  method<{ id: number | string }>(app, `${V}/webhooks/get`, 'webhooks', {
    summary: 'One endpoint (without its secret)',
    body: object({ id: id('Webhook id') }, ['id']),
    handler: async (body) => ({ data: webhookView(await existing(toId(body.id))) }),
  });

  type UpdateBody = Input & { id: number | string; enabled?: boolean; rotate_secret?: boolean };
  method<UpdateBody>(app, `${V}/webhooks/update`, 'webhooks', {
    summary: 'Change an endpoint: url, events, campaign_ids, secret (or rotate_secret), enabled',
    body: object(
      { id: id('Webhook id'), url, events: eventsSchema, campaign_ids: campaignIdsSchema, secret, rotate_secret: bool('Make a new secret (answered in data.secret)'), enabled: bool('false stops events for it; true turns a disabled endpoint back on') },
      ['id'],
    ),
    handler: async (body) => {
      const webhookId = toId(body.id);
      await existing(webhookId);
      if (body.secret !== undefined && body.rotate_secret) throw badRequest("give 'secret' or 'rotate_secret', not both");
      const campaignIds = await checked(body);
      const newSecret = body.rotate_secret ? newWebhookSecret() : body.secret;
      const w = await store.updateWebhook(webhookId, { url: body.url, events: body.events, campaign_ids: campaignIds, secret: newSecret, enabled: body.enabled }, Date.now());
      if (!w) throw notFound(`webhook ${webhookId} not found`);
      return { data: { ...webhookView(w), ...(newSecret ? { secret: newSecret } : {}) } };
    },
  });

  method<{ id: number | string }>(app, `${V}/webhooks/delete`, 'webhooks', {
    summary: 'Delete an endpoint and its deliveries',
    body: object({ id: id('Webhook id') }, ['id']),
    handler: async (body) => {
      if (!(await store.deleteWebhook(toId(body.id)))) throw notFound(`webhook ${body.id} not found`);
      return {};
    },
  });

  method<{ id: number | string; status?: DeliveryStatus; cursor?: number; limit?: number }>(app, `${V}/webhooks/deliveries`, 'webhooks', {
    summary: "An endpoint's deliveries, newest first, each with its attempts (time, HTTP status, error); next_cursor pages on",
    body: object(
      { id: id('Webhook id'), status: { type: 'string', enum: [...STATUSES] }, cursor: bigId('next_cursor of the previous page'), limit: int('At most this many (default 100)', 1, 1000) },
      ['id'],
    ),
    handler: async (body) => {
      const w = await existing(toId(body.id));
      const limit = body.limit ?? 100;
      const rows = await store.listWebhookEvents(w.id, body.status, body.cursor ?? null, limit + 1);
      const extra = rows.length > limit ? { next_cursor: rows[limit - 1].id } : {};
      return { data: rows.slice(0, limit).map(deliveryView), extra };
    },
  });

  method<{ id: number | string; delivery_ids?: number[]; status?: 'failed' }>(app, `${V}/webhooks/redeliver`, 'webhooks', {
    summary: 'Post deliveries again: those named (failed or delivered), or every failed one of the endpoint',
    body: object(
      { id: id('Webhook id'), delivery_ids: { ...array(bigId('Delivery id'), 'Delivery ids', 10_000), minItems: 1 }, status: { type: 'string', enum: ['failed'] } },
      ['id'],
    ),
    handler: async (body) => {
      const w = await existing(toId(body.id));
      if (body.delivery_ids === undefined && body.status === undefined) throw badRequest("one of the fields 'delivery_ids' or 'status' is required");
      const queued = await store.redeliverWebhookEvents(w.id, body.delivery_ids ?? null, Date.now());
      if (queued) wake('webhooks');
      return { data: { queued } };
    },
  });
}

/** With SALVO_WEBHOOK_DENY_PRIVATE: why the URL's host is (or resolves to) a private address, or null. */
async function privateTarget(raw: string): Promise<string | null> {
  const literal = literalPrivate(raw);
  if (literal) return `field 'url': ${literal}`;
  const host = new URL(raw).hostname;
  try {
    const addresses = await lookup(host, { all: true });
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    return bad ? `field 'url': ${host} resolves to ${bad.address}, a private address (SALVO_WEBHOOK_DENY_PRIVATE)` : null;
  } catch {
    // Not resolvable now (a name that will exist, no DNS here): each post checks the address it connects to.
    return null;
  }
}
