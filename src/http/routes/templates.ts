/** templates/add|get|update|list|delete: message templates, one entry per channel. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toId } from '../../core/ids.ts';
import { TEMPLATE_FIELDS } from '../../core/templates.ts';
import { CHANNELS } from '../../core/types.ts';
import type { Catalog } from '../../engine/catalog.ts';
import { addTemplate, deleteCatalogEntry, listTemplates, loadTemplate, templateView, updateTemplate, warningsOf } from '../../engine/catalog-entries.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, array, id, idOut, list, name, object, oneOf, text } from '../schemas.ts';

const FIELDS_OF_CHANNELS = Object.entries(TEMPLATE_FIELDS)
  .map(([c, f]) => `${c}: ${Object.keys(f).join(', ')}`)
  .join('; ');

/** A channel's fields: each a template text (templates/add refuses any other value). */
const channelFields = Type.Unsafe<Record<string, string>>({ type: 'object', additionalProperties: { type: 'string' }, description: FIELDS_OF_CHANNELS });

export const templateChannel = object({ sid: oneOf(CHANNELS, 'Channel'), fields: channelFields }, ['sid', 'fields']);

const template = answer(
  {
    id: idOut('Template id'),
    name: text('Name'),
    channels: list(answer({ sid: text('Channel'), fields: channelFields }), 'One entry per channel'),
    created: text('Created (ISO 8601)'),
    updated: text('Updated (ISO 8601)'),
  },
  'A template',
);

const warnings = list(text('What resolves to nothing, and where'), 'Variables that will print nothing: {lead.X} that no database has, {subscription.X} that is none');

export const templateRoutes: FastifyPluginAsyncTypebox<{ store: Store; catalog: Catalog }> = async (app, { store, catalog }) => {
  method(app, '/templates/add', 'templates', {
    summary: 'Create a message template; a field that does not parse is refused with its line and column',
    body: object({ name: name('Template name, unique'), channels: array(templateChannel, 'One entry per channel', 3) }, ['name', 'channels']),
    description: 'Saved as given; data.warnings lists variables that will print nothing ({lead.X} no database has, {subscription.X} that is none).',
    data: answer({ id: idOut('The new template'), warnings }),
    errors: [409],
    handler: async (body) => {
      const t = await addTemplate(store, body);
      return { data: { id: t.id, warnings: await warningsOf(store, t) } };
    },
  });
  method(app, '/templates/get', 'templates', {
    summary: 'Get a template',
    body: object({ id: id('Template id') }, ['id']),
    data: template,
    errors: [404],
    handler: async (body) => ({ data: templateView(await loadTemplate(store, toId(body.id))) }),
  });
  method(app, '/templates/update', 'templates', {
    summary: 'Change a template: a channel given replaces that channel, others stay',
    body: object({ id: id('Template id'), name: name('New name'), channels: array(templateChannel, 'Channels to replace', 3) }, ['id']),
    description: 'data.warnings lists variables that will print nothing, as templates/add does.',
    data: answer({ ...template.properties, warnings }),
    errors: [404, 409],
    handler: async (body) => {
      const t = await updateTemplate({ store, catalog }, { ...body, id: toId(body.id) });
      return { data: { ...templateView(t), warnings: await warningsOf(store, t) } };
    },
  });
  method(app, '/templates/list', 'templates', {
    summary: 'List templates',
    body: object({}),
    data: list(template, 'Templates'),
    handler: async () => ({ data: (await listTemplates(store)).map(templateView) }),
  });
  method(app, '/templates/delete', 'templates', {
    summary: 'Delete a template; refused (409) while a campaign names it or a message not yet sent renders it',
    body: object({ id: id('Template id') }, ['id']),
    data: Type.Null({ description: 'null' }),
    errors: [404, 409],
    handler: async (body) => {
      await deleteCatalogEntry({ store, catalog }, 'template', toId(body.id));
      return { data: null };
    },
  });
};
