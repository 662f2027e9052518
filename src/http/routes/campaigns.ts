/** campaigns/triggers/add|get|list|update and campaigns/activate|deactivate|get_status|log_v2|stats. */
import type { FastifyInstance } from 'fastify';
import { CHANNELS, TRIGGER_TYPES } from '../../core/types.ts';
import type { Campaign } from '../../core/types.ts';
import { abortCampaign, addCampaign, campaignView, loadCampaign, setCampaignActive, updateCampaign, type CampaignInput } from '../../engine/campaigns.ts';
import type { Catalog } from '../../engine/catalog.ts';
import { iso } from '../../support/time.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { anyObject, array, bigId, bool, id, int, name, object, str, toId } from '../schemas.ts';

import { MAX_VARIANTS, variantStats } from '../../core/variants.ts';
import { notFound } from '../../core/errors.ts';

const V = '/api/v1.1';

const contentItem = object(
  {
    message_id: { type: 'integer', minimum: 1, maximum: 2_147_483_647, description: 'Template id' },
    weight: { type: 'integer', description: "A/B content: this variant's share (a positive integer; default 1)" },
    subject: str('Overrides the template subject (template language)', 10_000),
    from_email: str('Overrides the sender address', 254),
    from_name: str('Overrides the sender name', 255),
    replyto_email: str('Overrides the Reply-To address', 254),
    replyto_name: str('Overrides the Reply-To name', 255),
  },
  ['message_id'],
);

const campaignProperties = {
  name: name('Campaign name, unique'),
  is_active: bool('Active campaigns can be started; default false'),
  trigger_type: { type: 'string', enum: [...TRIGGER_TYPES], description: "Trigger type; only 'api_call' campaigns start from the API" },
  send_channel: { type: 'string', enum: [...CHANNELS], description: 'Channel; fixed after creation' },
  resource_id: id('Resource the campaign sends from'),
  db_id: id('Profile database the campaign reaches (shown as list_id too)'),
  content: array(contentItem, 'The message: [{message_id, ...overrides}], or up to 10 A/B variants [{message_id, weight, ...overrides}]', MAX_VARIANTS),
  skip_minutes: int('Skip a profile that got this campaign within so many minutes (0: never skip)', 0, 525_600),
  subid: str('Free label carried to messages', 255),
  unconditional_sending: bool('Send even to subscriptions that are not subscribed'),
  attributes: anyObject('Free attributes'),
  content_filter: { type: ['object', 'null'], description: "MongoDB query over the request's content; a launch whose content does not match sends nothing" },
};

type Id = number | string;
type CampaignBody = Omit<CampaignInput, 'resource_id' | 'db_id'> & { resource_id?: Id; db_id?: Id };
const ids = (b: CampaignBody): CampaignInput => ({
  ...b,
  resource_id: b.resource_id === undefined ? undefined : toId(b.resource_id, 'resource_id'),
  db_id: b.db_id === undefined ? undefined : toId(b.db_id, 'db_id'),
});

export function campaignRoutes(app: FastifyInstance, store: Store, catalog: Catalog, publicUrl: string): void {
  const view = (c: Campaign) => campaignView(c, publicUrl);
  /** This process sees its own campaign changes at once; others within the cache's second. */
  const changed = (c: Campaign) => {
    catalog.forgetCampaign(c.id);
    return view(c);
  };
  method<CampaignBody>(app, `${V}/campaigns/triggers/add`, 'campaigns', {
    summary: 'Create a trigger campaign',
    body: object(campaignProperties, ['name', 'send_channel', 'resource_id', 'db_id', 'content']),
    handler: async (body) => ({ data: { id: (await addCampaign(store, ids(body))).id } }),
  });
  method<CampaignBody & { id: Id }>(app, `${V}/campaigns/triggers/update`, 'campaigns', {
    summary: 'Change a trigger campaign; keys not given stay as they are',
    body: object({ id: id('Campaign id'), ...campaignProperties }, ['id']),
    handler: async (body) => ({ data: changed(await updateCampaign(store, { ...ids(body), id: toId(body.id) })) }),
  });
  method<{ id: Id }>(app, `${V}/campaigns/triggers/get`, 'campaigns', {
    summary: 'Get a trigger campaign',
    body: object({ id: id('Campaign id') }, ['id']),
    handler: async (body) => ({ data: view(await loadCampaign(store, toId(body.id))) }),
  });
  method<{ from_id?: Id; limit?: number; is_active?: boolean }>(app, `${V}/campaigns/triggers/list`, 'campaigns', {
    summary: 'List trigger campaigns by id, from from_id on',
    body: object({ from_id: id('First id to list'), limit: int('At most this many (default 100)', 1, 1000), is_active: bool('Only active or only inactive') }),
    handler: async (body) => {
      const limit = body.limit ?? 100;
      const { rows, total } = await store.listCampaigns({
        fromId: body.from_id === undefined ? 0 : toId(body.from_id, 'from_id'),
        limit: limit + 1,
        isActive: body.is_active ?? null,
      });
      const page = rows.slice(0, limit);
      const extra: Record<string, unknown> = { total_count: total };
      if (rows.length > limit) extra.next_from_id = rows[limit].id;
      return { data: page.map(view), extra };
    },
  });

  method<{ id: Id }>(app, `${V}/campaigns/activate`, 'campaigns', {
    summary: 'Activate a campaign',
    body: object({ id: id('Campaign id') }, ['id']),
    handler: async (body) => ({ data: changed(await setCampaignActive(store, toId(body.id), true)) }),
  });
  method<{ id: Id; abort_if_running?: boolean }>(app, `${V}/campaigns/deactivate`, 'campaigns', {
    summary: 'Deactivate a campaign',
    body: object({ id: id('Campaign id'), abort_if_running: bool('Also drop messages still queued') }, ['id']),
    handler: async (body) => {
      const c = await setCampaignActive(store, toId(body.id), false);
      if (body.abort_if_running) await abortCampaign(store, c.id);
      return { data: changed(c) };
    },
  });
  method<{ id: Id }>(app, `${V}/campaigns/get_status`, 'campaigns', {
    summary: "A campaign's state: {is_active, is_completed, status}",
    body: object({ id: id('Campaign id') }, ['id']),
    handler: async (body) => {
      const c = await loadCampaign(store, toId(body.id));
      // A trigger campaign never completes: it waits for the next call.
      return { data: { is_active: c.is_active, is_completed: false, status: c.is_active ? 'active' : 'inactive' } };
    },
  });
  method<{ id: Id; limit?: number }>(app, `${V}/campaigns/log_v2`, 'campaigns', {
    summary: "A campaign's log, newest first: [{level, message, time}]",
    body: object({ id: id('Campaign id'), limit: int('At most this many entries (default 100)', 1, 1000) }, ['id']),
    handler: async (body) => {
      const c = await loadCampaign(store, toId(body.id));
      const rows = await store.listCampaignLog(c.id, body.limit ?? 100);
      return { data: rows.map((r) => ({ level: r.level, message: r.message, time: iso(r.time) })) };
    },
  });
  method<{ id: Id; launch_id?: number }>(app, `${V}/campaigns/stats`, 'campaigns', {
    summary: "A campaign's messages (or one launch's) counted by A/B variant and status",
    description: 'Answers {total, variants: [{variant, message_id, weight, total, statuses: {queued, sent, failed, skipped, ...}}]}. The variant of each message is chosen when the message is made, so counts are exact before sending.',
    body: object({ id: id('Campaign id'), launch_id: bigId('Only this launch (the Launch-Id header of a start)') }, ['id']),
    handler: async (body) => {
      const c = await loadCampaign(store, toId(body.id));
      const launchId = body.launch_id ?? null;
      if (launchId !== null && (await store.getLaunch(launchId))?.campaign_id !== c.id) throw notFound(`launch ${launchId} of campaign ${c.id} not found`);
      const variants = variantStats(c.content, await store.countMessagesByVariant(c.id, launchId));
      return { data: { campaign_id: c.id, launch_id: launchId, total: variants.reduce((n, v) => n + v.total, 0), variants } };
    },
  });
}
