/** campaigns/triggers/add|get|list|update|delete and campaigns/activate|deactivate|delete|get_status|log_v2|stats. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { MAX_ID, toId } from '../../core/ids.ts';
import { SUBSCRIPTION_CHANNELS, TRIGGER_TYPES } from '../../core/types.ts';
import { MAX_VARIANTS } from '../../core/variants.ts';
import {
  addCampaign,
  campaignLog,
  campaignStats,
  campaignStatus,
  campaignView,
  deactivateCampaign,
  deleteCampaign,
  listCampaigns,
  loadCampaign,
  setCampaignActive,
  updateCampaign,
} from '../../engine/campaigns.ts';
import type { Catalog } from '../../engine/catalog.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, anyObject, array, bigId, bool, engagementCounts, id, idOut, int, list, name, nullable, object, oneOf, str, text } from '../schemas.ts';

const overrides = {
  subject: str('Overrides the template subject (template language)', 10_000),
  from_email: str('Overrides the sender address', 254),
  from_name: str('Overrides the sender name', 255),
  replyto_email: str('Overrides the Reply-To address', 254),
  replyto_name: str('Overrides the Reply-To name', 255),
};
const weight = Type.Integer({ description: "A/B content: this variant's share (a positive integer; default 1)" });
const contentItem = object({ message_id: int('Template id', 1, MAX_ID), weight, ...overrides }, ['message_id']);

const campaignProperties = {
  name: name('Campaign name, unique'),
  is_active: bool('Active campaigns can be started; default false'),
  trigger_type: oneOf(TRIGGER_TYPES, "Trigger type; only 'api_call' campaigns start from the API"),
  send_channel: oneOf(SUBSCRIPTION_CHANNELS, 'Channel (email, sms or push: Salvo has no provider for the messenger channels); fixed after creation'),
  resource_id: id('Resource the campaign sends from'),
  db_id: id('Profile database the campaign reaches (shown as list_id too)'),
  content: array(contentItem, 'The message: [{message_id, ...overrides}], or up to 10 A/B variants [{message_id, weight, ...overrides}]', MAX_VARIANTS),
  skip_minutes: int('Skip a profile that got this campaign within so many minutes (0: never skip)', 0, 525_600),
  subid: str('Free label carried to messages', 255),
  unconditional_sending: bool('Send even to subscriptions that are not subscribed'),
  transactional: bool('Mail a person cannot refuse (receipts, password resets): no List-Unsubscribe headers; default false'),
  attributes: anyObject('Free attributes'),
  content_filter: Type.Unsafe<Record<string, unknown> | null>({
    type: ['object', 'null'],
    description: "MongoDB query over the request's content; a launch whose content does not match sends nothing",
  }),
};

const campaign = answer(
  {
    id: idOut('Campaign id'),
    name: text('Name'),
    is_active: bool('Can be started'),
    trigger_type: text('Trigger type'),
    send_channel: text('Channel'),
    resource_id: idOut('Resource'),
    db_id: idOut('Profile database'),
    list_id: idOut('Same as db_id'),
    content: list(answer(object({ message_id: idOut('Template id'), weight, ...overrides }, ['message_id']).properties), 'The message, or its A/B variants'),
    skip_minutes: Type.Integer({ description: 'Skip window in minutes' }),
    subid: nullable('string', 'Free label'),
    unconditional_sending: bool('Sends to subscriptions that are not subscribed'),
    transactional: bool('No List-Unsubscribe headers'),
    attributes: anyObject('Free attributes'),
    content_filter: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true, description: 'Content filter, or null' }),
    call_url: nullable('string', 'API v1.0 link: append an email, its MD5 or its XXH64 (api_call campaigns)'),
    created: text('Created (ISO 8601)'),
    updated: text('Updated (ISO 8601)'),
  },
  'A trigger campaign',
);

type Id = number | string;
/** The ids of a campaign body, read as numbers (Altcraft clients send numeric strings too). */
const ids = <B extends { resource_id?: Id; db_id?: Id }>(b: B): Omit<B, 'resource_id' | 'db_id'> & { resource_id?: number; db_id?: number } => ({
  ...b,
  resource_id: b.resource_id === undefined ? undefined : toId(b.resource_id, 'resource_id'),
  db_id: b.db_id === undefined ? undefined : toId(b.db_id, 'db_id'),
});

const byId = object({ id: id('Campaign id') }, ['id']);

export const campaignRoutes: FastifyPluginAsyncTypebox<{ store: Store; catalog: Catalog; publicUrl: string }> = async (app, { store, catalog, publicUrl }) => {
  const deps = { store, catalog };
  const view = (c: Parameters<typeof campaignView>[0]) => campaignView(c, publicUrl);

  method(app, '/campaigns/triggers/add', 'campaigns', {
    summary: 'Create a trigger campaign',
    body: object(campaignProperties, ['name', 'send_channel', 'resource_id', 'db_id', 'content']),
    data: answer({ id: idOut('The new campaign') }),
    errors: [404, 409],
    handler: async (body) => ({ data: { id: (await addCampaign(store, ids(body))).id } }),
  });
  method(app, '/campaigns/triggers/update', 'campaigns', {
    summary: 'Change a trigger campaign; keys not given stay as they are',
    body: object({ id: id('Campaign id'), ...campaignProperties }, ['id']),
    data: campaign,
    errors: [404, 409],
    handler: async (body) => ({ data: view(await updateCampaign(deps, { ...ids(body), id: toId(body.id) })) }),
  });
  method(app, '/campaigns/triggers/get', 'campaigns', {
    summary: 'Get a trigger campaign',
    body: byId,
    data: campaign,
    errors: [404],
    handler: async (body) => ({ data: view(await loadCampaign(store, toId(body.id))) }),
  });
  method(app, '/campaigns/triggers/list', 'campaigns', {
    summary: 'List trigger campaigns by id, from from_id on',
    body: object({ from_id: id('First id to list'), limit: int('At most this many (default 100)', 1, 1000), is_active: bool('Only active or only inactive') }),
    data: list(campaign, 'Campaigns'),
    extra: {
      total_count: Type.Integer({ description: 'Campaigns in all (with is_active, of that state)' }),
      next_from_id: Type.Optional(Type.Integer({ description: 'from_id of the next page; absent on the last page' })),
    },
    handler: async (body) => {
      const page = await listCampaigns(store, {
        fromId: body.from_id === undefined ? 0 : toId(body.from_id, 'from_id'),
        limit: body.limit ?? 100,
        isActive: body.is_active ?? null,
      });
      const extra = page.nextFromId === null ? { total_count: page.total } : { total_count: page.total, next_from_id: page.nextFromId };
      return { data: page.rows.map(view), extra };
    },
  });

  method(app, '/campaigns/activate', 'campaigns', {
    summary: 'Activate a campaign',
    body: byId,
    data: campaign,
    errors: [404],
    handler: async (body) => ({ data: view(await setCampaignActive(deps, toId(body.id), true)) }),
  });
  method(app, '/campaigns/deactivate', 'campaigns', {
    summary: 'Deactivate a campaign',
    body: object({ id: id('Campaign id'), abort_if_running: bool('Also drop messages still queued') }, ['id']),
    data: campaign,
    errors: [404],
    handler: async (body) => ({ data: view(await deactivateCampaign(deps, toId(body.id), body.abort_if_running === true)) }),
  });
  // campaigns/delete is Altcraft's method for every kind of campaign; campaigns/triggers/delete its trigger campaign's own.
  for (const path of ['/campaigns/delete', '/campaigns/triggers/delete']) {
    method(app, path, 'campaigns', {
      summary: 'Delete a trigger campaign; refused (409) while it has messages not yet sent, launches expanding or tasks open',
      description: 'Its launches, messages and log are kept for statistics (messages/list by campaign_id still lists them) until retention purges them.',
      body: byId,
      data: Type.Null({ description: 'null' }),
      errors: [404, 409],
      handler: async (body) => {
        await deleteCampaign(deps, toId(body.id));
        return { data: null };
      },
    });
  }
  method(app, '/campaigns/get_status', 'campaigns', {
    summary: "A campaign's state: {is_active, is_completed, status}",
    body: byId,
    data: answer({ is_active: bool('Can be started'), is_completed: bool('Always false: a trigger campaign waits for the next call'), status: text('active or inactive') }),
    errors: [404],
    handler: async (body) => ({ data: await campaignStatus(store, toId(body.id)) }),
  });
  method(app, '/campaigns/log_v2', 'campaigns', {
    summary: "A campaign's log, newest first: [{level, message, time}]",
    body: object({ id: id('Campaign id'), limit: int('At most this many entries (default 100)', 1, 1000) }, ['id']),
    data: list(answer({ level: text('info, warning or error'), message: text('What happened'), time: text('When (ISO 8601)') }), 'Log entries'),
    errors: [404],
    handler: async (body) => ({ data: await campaignLog(store, toId(body.id), body.limit ?? 100) }),
  });
  method(app, '/campaigns/stats', 'campaigns', {
    summary: "A campaign's messages (or one launch's) counted by A/B variant and status",
    description:
      'Answers {total, variants: [{variant, message_id, weight, total, statuses: {queued, sent, captured, failed, skipped, ...}}]}. The variant of each message is chosen when the message is made, so counts are exact before sending.',
    body: object({ id: id('Campaign id'), launch_id: bigId('Only this launch (the Launch-Id header of a start)') }, ['id']),
    data: answer({
      campaign_id: idOut('Campaign id'),
      launch_id: nullable('integer', 'The launch counted, or null for all'),
      total: Type.Integer({ description: 'Messages counted' }),
      variants: list(
        answer({
          variant: Type.Integer({ description: 'Index in content' }),
          message_id: nullable('integer', 'Template id'),
          weight: nullable('integer', 'Share'),
          total: Type.Integer({ description: 'Messages of this variant' }),
          statuses: Type.Record(Type.String(), Type.Integer(), { description: 'Messages by status' }),
        }),
        'One line per variant (and template)',
      ),
      engagement: engagementCounts("Opens, clicks and unsubscribes of the campaign's (or the launch's) messages"),
    }),
    errors: [404],
    handler: async (body) => ({ data: await campaignStats(store, toId(body.id), body.launch_id ?? null) }),
  });
};
