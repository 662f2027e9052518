/** Trigger campaigns: checked against the resource, database and template they name. */
import { badRequest, conflict, notFound } from '../core/errors.ts';
import { normalizeEmail } from '../core/fields.ts';
import { randomHex } from '../core/ids.ts';
import { checkQuery } from '../core/mongo-query.ts';
import { TemplateSyntaxError } from '../core/template/ast.ts';
import { compileTemplate } from '../core/templates.ts';
import { MAX_VARIANTS, MAX_WEIGHT, variantStats } from '../core/variants.ts';
import { CHANNELS, TRIGGER_TYPES, type Campaign, type CampaignContent, type Channel, type TriggerType } from '../core/types.ts';
import { COUNT_CAP } from '../store/queries/catalog.ts';
import type { CampaignFields } from '../store/queries/campaigns.ts';
import type { CampaignStore, CatalogStore, EngagementStore, LaunchStore, MessageStore, Transactions } from '../store/store.ts';
import { iso } from '../support/time.ts';
import type { Catalog } from './catalog.ts';
import { loadResource, loadTemplate } from './catalog-entries.ts';

/** This process's catalog cache, told of a change so this process sees it at once (others within the cache's second). */
type Forget = { catalog: Pick<Catalog, 'forgetCampaign'> };

export interface CampaignInput {
  name?: string;
  is_active?: boolean;
  trigger_type?: string;
  send_channel?: string;
  resource_id?: number;
  db_id?: number;
  content?: CampaignContent[];
  skip_minutes?: number;
  subid?: string;
  unconditional_sending?: boolean;
  transactional?: boolean;
  attributes?: Record<string, unknown>;
  content_filter?: Record<string, unknown> | null;
}

const EMAIL_OVERRIDES = ['subject', 'from_email', 'from_name', 'replyto_email', 'replyto_name'] as const;

/** The keys of a content item that override the template, checked as the template's own would be. */
function checkContent(content: CampaignContent[], channel: Channel): CampaignContent[] {
  if (content.length === 0) throw badRequest('content must hold at least one message ({message_id, ...})');
  if (content.length > MAX_VARIANTS) throw badRequest(`content holds at most ${MAX_VARIANTS} variants (A/B content), not ${content.length}`);
  return content.map((c, i) => {
    const out: CampaignContent = { message_id: c.message_id };
    if (c.weight !== undefined) {
      if (!Number.isInteger(c.weight) || c.weight < 1 || c.weight > MAX_WEIGHT) throw badRequest(`content[${i}].weight must be a positive integer (at most ${MAX_WEIGHT})`);
      out.weight = c.weight;
    }
    for (const key of EMAIL_OVERRIDES) {
      const v = c[key];
      if (v === undefined) continue;
      if (channel !== 'email') throw badRequest(`content[${i}].${key} applies to email campaigns only`);
      if (key === 'from_email' || key === 'replyto_email') out[key] = normalizeEmail(v, `content[${i}].${key}`);
      else {
        if (key === 'subject') {
          try {
            compileTemplate(v);
          } catch (e) {
            if (e instanceof TemplateSyntaxError) throw badRequest(`content[${i}].subject: ${e.message}`);
            throw e;
          }
        }
        out[key] = v;
      }
    }
    return out;
  });
}

/** What checking a campaign reads: the resource, database and templates it names. */
type CampaignChecks = Pick<CatalogStore, 'getResource' | 'getDatabase' | 'getTemplate'>;

/** Checks that what a campaign names exists and fits together. */
async function checkCampaign(store: CampaignChecks, c: CampaignFields): Promise<void> {
  if (!(TRIGGER_TYPES as readonly string[]).includes(c.trigger_type)) throw badRequest(`trigger_type must be one of ${TRIGGER_TYPES.join(', ')}`);
  if (!(CHANNELS as readonly string[]).includes(c.send_channel)) {
    throw badRequest(`send_channel '${c.send_channel}': Salvo has no provider for this channel; campaigns send on ${CHANNELS.join(', ')}`);
  }
  const resource = await loadResource(store, c.resource_id);
  if (!resource.channels.includes(c.send_channel)) throw badRequest(`resource ${resource.id} has no '${c.send_channel}' channel`);
  if (!(await store.getDatabase(c.db_id))) throw notFound(`database ${c.db_id} not found`);
  for (const item of c.content) {
    const t = await loadTemplate(store, item.message_id);
    if (!t.channels[c.send_channel]) throw badRequest(`template ${t.id} has no '${c.send_channel}' channel`);
  }
  if (c.content_filter) checkQuery(c.content_filter, 'content_filter');
}

export async function addCampaign(store: CampaignStore & CampaignChecks, body: CampaignInput): Promise<Campaign> {
  const channel = body.send_channel as Channel;
  const fields: CampaignFields = {
    name: body.name!,
    is_active: body.is_active ?? false,
    trigger_type: (body.trigger_type ?? 'api_call') as TriggerType,
    send_channel: channel,
    resource_id: body.resource_id!,
    db_id: body.db_id!,
    content: checkContent(body.content!, channel),
    skip_minutes: body.skip_minutes ?? 0,
    subid: body.subid ?? null,
    unconditional_sending: body.unconditional_sending ?? false,
    transactional: body.transactional ?? false,
    attributes: body.attributes ?? {},
    content_filter: body.content_filter ?? null,
    link_key: randomHex(16),
  };
  await checkCampaign(store, fields);
  const campaign = await store.insertCampaign(fields, Date.now());
  await store.appendCampaignLog(campaign.id, 'info', `campaign created${campaign.is_active ? ' active' : ''}`, Date.now());
  return campaign;
}

export async function loadCampaign(store: Pick<CampaignStore, 'getCampaign'>, id: number): Promise<Campaign> {
  const c = await store.getCampaign(id);
  if (!c) throw notFound(`trigger campaign ${id} not found`);
  return c;
}

/** campaigns/triggers/update: given keys replace; the channel is fixed; a new database renews the v1.0 link. */
export async function updateCampaign(
  { store, catalog }: Forget & { store: CampaignStore & CampaignChecks },
  body: CampaignInput & { id: number },
): Promise<Campaign> {
  const c = await loadCampaign(store, body.id);
  if (body.send_channel !== undefined && body.send_channel !== c.send_channel) {
    throw badRequest(`send_channel cannot change after creation (campaign ${c.id} sends ${c.send_channel})`);
  }
  const updated: Campaign = {
    ...c,
    name: body.name ?? c.name,
    is_active: body.is_active ?? c.is_active,
    trigger_type: (body.trigger_type ?? c.trigger_type) as TriggerType,
    resource_id: body.resource_id ?? c.resource_id,
    db_id: body.db_id ?? c.db_id,
    content: body.content ? checkContent(body.content, c.send_channel) : c.content,
    skip_minutes: body.skip_minutes ?? c.skip_minutes,
    subid: body.subid ?? c.subid,
    unconditional_sending: body.unconditional_sending ?? c.unconditional_sending,
    transactional: body.transactional ?? c.transactional,
    attributes: body.attributes ?? c.attributes,
    content_filter: body.content_filter === undefined ? c.content_filter : body.content_filter,
    link_key: body.db_id !== undefined && body.db_id !== c.db_id ? randomHex(16) : c.link_key,
    updated_at: Date.now(),
  };
  await checkCampaign(store, updated);
  await store.updateCampaign(updated);
  await store.appendCampaignLog(c.id, 'info', 'campaign updated', updated.updated_at);
  catalog.forgetCampaign(c.id);
  return updated;
}

export async function setCampaignActive({ store, catalog }: Forget & { store: CampaignStore }, id: number, active: boolean): Promise<Campaign> {
  const c = await loadCampaign(store, id);
  const now = Date.now();
  if (c.is_active !== active) {
    await store.updateCampaign({ ...c, is_active: active, updated_at: now });
    await store.appendCampaignLog(c.id, 'info', active ? 'campaign activated' : 'campaign deactivated', now);
  }
  catalog.forgetCampaign(c.id);
  return { ...c, is_active: active };
}

type AbortStore = Transactions<Pick<MessageStore, 'abortQueued'> & Pick<LaunchStore, 'abortExpandingLaunches'> & Pick<CampaignStore, 'appendCampaignLog'>>;

/** deactivate with abort_if_running: drops queued and waiting messages and stops expanding launches. */
async function abortCampaign(store: AbortStore, id: number): Promise<void> {
  const now = Date.now();
  await store.transaction(async (tx) => {
    const messages = await tx.abortQueued(id, now);
    const launches = await tx.abortExpandingLaunches(id, now);
    await tx.appendCampaignLog(id, 'warning', `aborted: ${messages} queued messages dropped, ${launches} launches stopped expanding`, now);
  });
}

/**
 * A campaign as the API shows it. `call_url` is its API v1.0 link: append the profile's email, the
 * MD5 of its email or its XXH64.
 */
export const campaignView = (c: Campaign, publicUrl: string) => ({
  id: c.id,
  name: c.name,
  is_active: c.is_active,
  trigger_type: c.trigger_type,
  send_channel: c.send_channel,
  resource_id: c.resource_id,
  db_id: c.db_id,
  list_id: c.db_id,
  content: c.content,
  skip_minutes: c.skip_minutes,
  subid: c.subid,
  unconditional_sending: c.unconditional_sending,
  transactional: c.transactional,
  attributes: c.attributes,
  content_filter: c.content_filter,
  call_url: c.trigger_type === 'api_call' ? `${publicUrl}/trg/${c.link_key}/` : null,
  created: iso(c.created_at),
  updated: iso(c.updated_at),
});

/** campaigns/triggers/list: a page by id from `fromId`, the total, and the id the next page starts at. */
export async function listCampaigns(store: Pick<CampaignStore, 'listCampaigns'>, q: { fromId: number; limit: number; isActive: boolean | null }) {
  const { rows, total } = await store.listCampaigns({ ...q, limit: q.limit + 1 });
  return { rows: rows.slice(0, q.limit), total, nextFromId: rows.length > q.limit ? rows[q.limit].id : null };
}

/** campaigns/deactivate; with abort_if_running, its queued messages are dropped too. */
export async function deactivateCampaign(deps: Forget & { store: CampaignStore & AbortStore }, id: number, abortIfRunning: boolean): Promise<Campaign> {
  const c = await setCampaignActive(deps, id, false);
  if (abortIfRunning) {
    await abortCampaign(deps.store, c.id);
    deps.catalog.forgetCampaign(c.id);
  }
  return c;
}

/** campaigns/get_status. A trigger campaign never completes: it waits for the next call. */
export async function campaignStatus(store: Pick<CampaignStore, 'getCampaign'>, id: number) {
  const c = await loadCampaign(store, id);
  return { is_active: c.is_active, is_completed: false, status: c.is_active ? 'active' : 'inactive' };
}

/** campaigns/log_v2: the campaign's log, newest first. */
export async function campaignLog(store: Pick<CampaignStore, 'getCampaign' | 'listCampaignLog'>, id: number, limit: number) {
  const c = await loadCampaign(store, id);
  const rows = await store.listCampaignLog(c.id, limit);
  return rows.map((r) => ({ level: r.level, message: r.message, time: iso(r.time) }));
}

/** campaigns/stats: the campaign's messages (or one launch's) counted by A/B variant and status. */
export async function campaignStats(
  store: Pick<CampaignStore, 'getCampaign'> & Pick<LaunchStore, 'getLaunch'> & Pick<MessageStore, 'countMessagesByVariant'> & Pick<EngagementStore, 'countEngagement'>,
  id: number,
  launchId: number | null,
) {
  const c = await loadCampaign(store, id);
  if (launchId !== null && (await store.getLaunch(launchId))?.campaign_id !== c.id) throw notFound(`launch ${launchId} of campaign ${c.id} not found`);
  const variants = variantStats(c.content, await store.countMessagesByVariant(c.id, launchId));
  const engagement = await store.countEngagement({ campaignId: c.id, launchId });
  return { campaign_id: c.id, launch_id: launchId, total: variants.reduce((n, v) => n + v.total, 0), variants, engagement };
}

type DeleteStore = Transactions<Pick<CampaignStore, 'unfinishedWorkOf' | 'markCampaignDeleted' | 'appendCampaignLog'>>;

/** Why a campaign cannot be deleted yet (work of it still running), or null. */
function unfinished(id: number, w: { messages: number; expanding: number; tasks: number }): string | null {
  const left: string[] = [];
  if (w.messages > 0) left.push(`${w.messages > COUNT_CAP ? `more than ${COUNT_CAP}` : w.messages} messages not yet sent`);
  if (w.expanding > 0) left.push(`${w.expanding} launches still expanding`);
  if (w.tasks > 0) left.push(`${w.tasks} batch tasks not finished`);
  if (left.length === 0) return null;
  return `campaign ${id} has ${left.join(', ')}: deactivate it with abort_if_running first (messages already being sent finish within the lease)`;
}

/**
 * campaigns/delete (campaigns/triggers/delete): refused while the campaign still has work running. The
 * campaign disappears from every method that names it; its launches, messages and log stay (messages/list
 * by campaign_id still lists them) until retention purges them, and the campaign row with the last of them.
 */
export async function deleteCampaign({ store, catalog }: Forget & { store: DeleteStore }, id: number): Promise<void> {
  const now = Date.now();
  await store.transaction(async (tx) => {
    const refusal = unfinished(id, await tx.unfinishedWorkOf(id));
    if (refusal) throw conflict(refusal);
    if (!(await tx.markCampaignDeleted(id, now))) throw notFound(`trigger campaign ${id} not found`);
    await tx.appendCampaignLog(id, 'warning', 'campaign deleted', now);
  });
  catalog.forgetCampaign(id);
}
