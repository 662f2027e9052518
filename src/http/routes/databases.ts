/** databases/add|list|get|delete|fields (and fields_get, Altcraft's name): profile databases and their typed custom fields. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toId } from '../../core/ids.ts';
import { FIELD_TYPES } from '../../core/types.ts';
import type { Catalog } from '../../engine/catalog.ts';
import type { Store } from '../../store/store.ts';
import { addDatabase, databaseFields, deleteCatalogEntry, databaseView, databaseWithCounts, listDatabases, updateDatabase } from '../../engine/catalog-entries.ts';
import { method } from '../api.ts';
import { answer, array, bool, id, idOut, list, name, object, oneOf, str, text } from '../schemas.ts';

const fieldDef = object(
  {
    name: str('Field name: a letter, then letters, digits, _', 64),
    type: oneOf(FIELD_TYPES, 'Field type'),
    indexed: bool('Keep an index so matching and queries on this field are fast'),
  },
  ['name', 'type'],
);

const fieldOut = answer({ name: text('Field name'), type: text('Field type'), indexed: bool('Indexed') });
const database = answer({ id: idOut('Database id'), name: text('Name'), fields: list(fieldOut, 'Custom fields'), created: text('Created (ISO 8601)') }, 'A profile database');
const byId = object({ id: id('Database id') }, ['id']);

export const databaseRoutes: FastifyPluginAsyncTypebox<{ store: Store; catalog: Catalog }> = async (app, { store, catalog }) => {
  method(app, '/databases/add', 'databases', {
    summary: 'Create a profile database with typed custom fields',
    body: object({ name: name('Database name, unique'), fields: array(fieldDef, 'Custom fields', 500) }, ['name']),
    data: answer({ id: idOut('The new database') }),
    errors: [409],
    handler: async (body) => ({ data: { id: (await addDatabase(store, body)).id } }),
  });
  method(app, '/databases/list', 'databases', {
    summary: 'List profile databases',
    body: object({}),
    data: list(database, 'Databases'),
    handler: async () => ({ data: (await listDatabases(store)).map(databaseView) }),
  });
  method(app, '/databases/get', 'databases', {
    summary: 'Get a profile database, with its subscriptions counted by channel and status',
    body: byId,
    data: answer({
      ...database.properties,
      subscriptions: list(answer({ channel: text('Channel'), status: text('Status'), count: Type.Integer({ description: 'Subscriptions' }) }), 'Subscriptions by channel and status'),
    }),
    errors: [404],
    handler: async (body) => ({ data: await databaseWithCounts(store, toId(body.id)) }),
  });
  method(app, '/databases/update', 'databases', {
    summary: 'Rename a database and add custom fields; a field already there is given as it is, none is changed or removed',
    body: object({ id: id('Database id'), name: name('New name'), fields: array(fieldDef, 'Fields to add (those already there may be listed unchanged)', 500) }, ['id']),
    data: database,
    errors: [404, 409],
    handler: async (body) => ({ data: databaseView(await updateDatabase({ store, catalog }, { ...body, id: toId(body.id) })) }),
  });
  method(app, '/databases/delete', 'databases', {
    summary: 'Delete a profile database; refused (409) while it holds profiles or campaigns (deleted ones kept for statistics too) use it',
    body: byId,
    data: Type.Null({ description: 'null' }),
    errors: [404, 409],
    handler: async (body) => {
      await deleteCatalogEntry({ store, catalog }, 'database', toId(body.id));
      return { data: null };
    },
  });
  // databases/fields_get is the name Altcraft's pages give it ("use /api/v1.1/databases/fields_get").
  for (const path of ['/databases/fields', '/databases/fields_get']) {
    method(app, path, 'databases', {
      summary: "List a database's fields: system fields, then custom fields",
      body: byId,
      data: list(answer({ name: text('Field name'), type: text('Field type'), indexed: bool('Indexed'), system: bool('A field every database has') }), 'Fields'),
      errors: [404],
      handler: async (body) => ({ data: await databaseFields(store, toId(body.id)) }),
    });
  }
};
