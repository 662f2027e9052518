/**
 * The webhooks API's use cases: endpoints added, changed and deleted, their deliveries listed and
 * posted again. The secret is answered by add (and by update when it sets or rotates one), never by
 * list or get: the store keeps it to sign with.
 */
import { badRequest, notFound } from '../core/errors.ts';
import { randomHex, toId } from '../core/ids.ts';
import { newWebhookSecret, secretProblem, urlProblem } from '../core/webhooks.ts';
import { urlsRefusal } from './egress.ts';
import type { DeliveryStatus, Webhook, WebhookDelivery, WebhookStore } from '../store/queries/webhooks.ts';
import type { CampaignStore } from '../store/store.ts';
import { iso } from '../support/time.ts';
import type { Wake } from './loops.ts';

export interface WebhookDeps {
  store: WebhookStore & Pick<CampaignStore, 'getCampaign'>;
  /** SALVO_EGRESS_DENY_PRIVATE: refuse URLs whose host is (or resolves to) a private address. */
  denyPrivate: boolean;
  wake: Wake;
}

/** What add and update may set. */
export interface WebhookInput {
  url?: string;
  events?: string[];
  campaign_ids?: (number | string)[] | null;
  secret?: string;
}

export const webhookView = (w: Webhook) => ({
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
  payload: JSON.parse(d.payload) as Record<string, unknown>,
});

/** Checks what add and update may set; answers the campaign ids as numbers. */
async function checked(deps: WebhookDeps, b: WebhookInput): Promise<number[] | null | undefined> {
  if (b.url !== undefined) {
    const problem = urlProblem(b.url) ?? (deps.denyPrivate ? await urlsRefusal([{ field: 'url', url: b.url }]) : null);
    if (problem) throw badRequest(problem);
  }
  if (b.secret !== undefined) {
    const problem = secretProblem(b.secret);
    if (problem) throw badRequest(problem);
  }
  if (b.campaign_ids === undefined || b.campaign_ids === null) return b.campaign_ids;
  const ids = b.campaign_ids.map((c) => toId(c, 'campaign_ids'));
  for (const c of new Set(ids)) if (!(await deps.store.getCampaign(c))) throw badRequest(`campaign ${c} in 'campaign_ids' not found`);
  return ids;
}

export async function loadWebhook(store: Pick<WebhookStore, 'getWebhook'>, webhookId: number): Promise<Webhook> {
  const w = await store.getWebhook(webhookId);
  if (!w) throw notFound(`webhook ${webhookId} not found`);
  return w;
}

/** webhooks/add: the new endpoint's id and its secret (made when not given). */
export async function addWebhook(deps: WebhookDeps, b: WebhookInput & { url: string; events: string[] }) {
  const campaignIds = await checked(deps, b);
  const w = await deps.store.insertWebhook({ url: b.url, events: b.events, campaign_ids: campaignIds ?? null, secret: b.secret ?? newWebhookSecret() }, Date.now());
  return { id: w.id, secret: w.secret };
}

/** webhooks/update: the endpoint as it is now, with its secret when this call set or rotated it. */
export async function updateWebhook(deps: WebhookDeps, webhookId: number, b: WebhookInput & { enabled?: boolean; rotate_secret?: boolean }) {
  await loadWebhook(deps.store, webhookId);
  if (b.secret !== undefined && b.rotate_secret) throw badRequest("give 'secret' or 'rotate_secret', not both");
  const campaignIds = await checked(deps, b);
  const newSecret = b.rotate_secret ? newWebhookSecret() : b.secret;
  const w = await deps.store.updateWebhook(webhookId, { url: b.url, events: b.events, campaign_ids: campaignIds, secret: newSecret, enabled: b.enabled }, Date.now());
  if (!w) throw notFound(`webhook ${webhookId} not found`);
  return { ...webhookView(w), ...(newSecret ? { secret: newSecret } : {}) };
}

export async function deleteWebhook(store: Pick<WebhookStore, 'deleteWebhook'>, webhookId: number): Promise<void> {
  if (!(await store.deleteWebhook(webhookId))) throw notFound(`webhook ${webhookId} not found`);
}

/** webhooks/deliveries: a page of an endpoint's deliveries, newest first, and the cursor of the next. */
export async function listDeliveries(store: Pick<WebhookStore, 'getWebhook' | 'listWebhookEvents'>, webhookId: number, status: DeliveryStatus | undefined, cursor: number | null, limit: number) {
  const w = await loadWebhook(store, webhookId);
  const rows = await store.listWebhookEvents(w.id, status, cursor, limit + 1);
  return { rows: rows.slice(0, limit).map(deliveryView), nextCursor: rows.length > limit ? rows[limit - 1].id : null };
}

/** webhooks/redeliver: deliveries named (or every failed one) queued again; how many. */
export async function redeliver(deps: Pick<WebhookDeps, 'store' | 'wake'>, webhookId: number, deliveryIds: number[] | undefined, status: 'failed' | undefined): Promise<number> {
  const w = await loadWebhook(deps.store, webhookId);
  if (deliveryIds === undefined && status === undefined) throw badRequest("one of the fields 'delivery_ids' or 'status' is required");
  const queued = await deps.store.redeliverWebhookEvents(w.id, deliveryIds ?? null, Date.now());
  if (queued) deps.wake('webhooks');
  return queued;
}

/**
 * webhooks/test: one signed POST of a `webhook.test` event to the endpoint, now, answering what it
 * said (status code or error) and how long it took. Nothing is stored: it is not a delivery, is not
 * retried, and no endpoint subscribes to it (it is no event of WEBHOOK_EVENTS).
 */
/** Posts a signed body (delivery's poster, under the egress policy and the webhook timeout; the composition root gives it). */
export type SignedPost = (url: string, secret: string, id: string, timestampSeconds: number, body: string) => Promise<{ statusCode: number | null; error: string | null }>;

export async function testWebhook(store: Pick<WebhookStore, 'getWebhook'>, webhookId: number, post: SignedPost) {
  const w = await loadWebhook(store, webhookId);
  const now = Date.now();
  const id = `msg_test_${randomHex(12)}`;
  const body = JSON.stringify({ type: 'webhook.test', timestamp: iso(now), data: { webhook_id: w.id } });
  const t0 = performance.now();
  const r = await post(w.url, w.secret, id, Math.floor(now / 1000), body);
  return { status_code: r.statusCode, error: r.error, ms: Math.round(performance.now() - t0), ok: r.statusCode !== null && r.statusCode >= 200 && r.statusCode < 300 };
}
