/** databases/*, resources/*, templates/*: setting up what campaigns need. */
import type { FastifyInstance } from 'fastify';
import { FIELD_TYPES, CHANNELS } from '../../core/types.ts';
import { TEMPLATE_FIELDS } from '../../core/templates.ts';
import {
  addDatabase,
  addResource,
  addTemplate,
  databaseFields,
  databaseView,
  loadResource,
  loadTemplate,
  resourceView,
  templateView,
  updateResource,
  updateTemplate,
  type ResourceInput,
} from '../../engine/catalog-entries.ts';
import { notFound } from '../../core/errors.ts';
import type { Catalog } from '../../engine/catalog.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { anyObject, array, bool, id, int, name, object, str, toId } from '../schemas.ts';

const V = '/api/v1.1';

const fieldDef = object(
  {
    name: str('Field name: a letter, then letters, digits, _', 64),
    type: { type: 'string', enum: [...FIELD_TYPES], description: 'Field type' },
    indexed: bool('Keep an index so matching and queries on this field are fast'),
  },
  ['name', 'type'],
);

const templateChannel = object(
  {
    sid: { type: 'string', enum: [...CHANNELS], description: 'Channel' },
    fields: {
      type: 'object',
      description: Object.entries(TEMPLATE_FIELDS)
        .map(([c, f]) => `${c}: ${Object.keys(f).join(', ')}`)
        .join('; '),
      additionalProperties: { type: 'string' },
    },
  },
  ['sid', 'fields'],
);

const SECRET = ' (a secret: resources/get shows it as ********; sending that back keeps it)';

/** The resource's fields as resources/add takes them and resources/update changes them; core/resource-settings.ts checks them. */
const resourceFields = {
  channels: array({ type: 'string', enum: [...CHANNELS] }, 'Channels the resource sends on', 3),
  email: object(
    {
      from_email: str('Sender address', 254),
      from_name: str('Sender name', 255),
      replyto_email: str('Reply-To address', 254),
      replyto_name: str('Reply-To name', 255),
    },
    [],
    "Email sender; required with the 'email' channel",
  ),
  sms: object(
    {
      sender: str('Sender: up to 11 letters and digits (alphanumeric) or a phone number', 64),
      smpp: object(
        {
          url: str('smpp://system_id:password@host:2775 (smpps:// for TLS)' + SECRET, 2048),
          tls: bool('Connect with TLS'),
          window: int('submit_sm awaiting their answer at most (default 10)', 1, 1000),
          system_type: str('bind system_type', 12),
          enquire_link_seconds: int('Keep-alive interval (default 30)', 1, 3600),
        },
        ['url'],
        'SMS over SMPP 3.4',
      ),
      http: object(
        {
          url: str('URL; {to}, {sender}, {text} are filled in (URL-encoded)' + SECRET, 2048),
          method: { type: 'string', enum: ['GET', 'POST', 'PUT', 'PATCH'], description: 'Default POST' },
          headers: { type: 'object', additionalProperties: { type: 'string' }, description: 'Request headers; values are secrets except Content-Type, Accept, User-Agent' },
          body: str('Body template with {to}, {sender}, {text} (JSON-escaped in a JSON body)', 65_536),
          timeout_seconds: int('Per request (default 15)', 1, 300),
        },
        ['url'],
        'SMS through an HTTP gateway',
      ),
    },
    [],
    'SMS sender and provider (smpp or http); without a provider SMS is captured in the outbox',
  ),
  push: object(
    {
      name: str('Push sender name', 255),
      ttl: int('Seconds a push service keeps an undelivered push (default 86400)', 0, 2_419_200),
      webpush: object(
        { vapid_public_key: str('VAPID public key, base64url', 200), vapid_private_key: str('VAPID private key, base64url' + SECRET, 200), subject: str('mailto: or https: contact', 1000) },
        ['vapid_public_key', 'vapid_private_key', 'subject'],
        'Web Push (VAPID)',
      ),
      fcm: object(
        { service_account: anyObject('The service account key file (JSON); private_key and private_key_id are secrets'), endpoint: str('Default https://fcm.googleapis.com', 2048) },
        ['service_account'],
        'Firebase Cloud Messaging HTTP v1',
      ),
      apns: object(
        {
          key_id: str('Key ID', 64),
          team_id: str('Team ID', 64),
          private_key: str('The .p8 key (PEM)' + SECRET, 10_000),
          topic: str('App bundle id', 255),
          endpoint: str('Default https://api.push.apple.com; http:// for a local HTTP/2 server without TLS', 2048),
        },
        ['key_id', 'team_id', 'private_key', 'topic'],
        'Apple Push Notification service (token auth)',
      ),
    },
    [],
    'Push sender and providers; without one push is captured in the outbox',
  ),
  tracking_domain: str('Domain for links and v1.0 trigger URLs', 255),
};

export function setupRoutes(app: FastifyInstance, store: Store, catalog: Catalog): void {
  method<{ name: string; fields?: { name: string; type: string; indexed?: boolean }[] }>(app, `${V}/databases/add`, 'databases', {
    summary: 'Create a profile database with typed custom fields',
    body: object({ name: name('Database name, unique'), fields: array(fieldDef, 'Custom fields', 500) }, ['name']),
    handler: async (body) => ({ data: { id: (await addDatabase(store, body)).id } }),
  });
  method(app, `${V}/databases/list`, 'databases', {
    summary: 'List profile databases',
    body: object({}),
    handler: async () => ({ data: (await store.listDatabases()).map(databaseView) }),
  });
  method<{ id: number | string }>(app, `${V}/databases/get`, 'databases', {
    summary: 'Get a profile database',
    body: object({ id: id('Database id') }, ['id']),
    handler: async (body) => {
      const db = await store.getDatabase(toId(body.id));
      if (!db) throw notFound(`database ${body.id} not found`);
      return { data: databaseView(db) };
    },
  });
  method<{ id: number | string }>(app, `${V}/databases/fields`, 'databases', {
    summary: "List a database's fields: system fields, then custom fields",
    body: object({ id: id('Database id') }, ['id']),
    handler: async (body) => ({ data: await databaseFields(store, toId(body.id)) }),
  });

  method<ResourceInput>(app, `${V}/resources/add`, 'resources', {
    summary: 'Create a resource: a sending source with its channels, senders and providers',
    body: object({ name: name('Resource name, unique'), ...resourceFields }, ['name', 'channels']),
    handler: async (body) => ({ data: { id: (await addResource(store, body)).id } }),
  });
  method<Partial<ResourceInput> & { id: number | string }>(app, `${V}/resources/update`, 'resources', {
    summary: 'Change a resource: each field given replaces the stored one; a secret sent back as ******** is kept',
    body: object({ id: id('Resource id'), name: name('New name'), ...resourceFields }, ['id']),
    handler: async (body) => {
      const r = await updateResource(store, { ...body, id: toId(body.id) });
      catalog.forgetResource(r.id);
      return { data: resourceView(r) };
    },
  });
  method<{ id: number | string }>(app, `${V}/resources/get`, 'resources', {
    summary: 'Get a resource',
    body: object({ id: id('Resource id') }, ['id']),
    handler: async (body) => ({ data: resourceView(await loadResource(store, toId(body.id))) }),
  });
  method(app, `${V}/resources/list`, 'resources', {
    summary: 'List resources',
    body: object({}),
    handler: async () => ({ data: (await store.listResources()).map(resourceView) }),
  });

  type TemplateBody = { name: string; channels: { sid: string; fields: Record<string, unknown> }[] };
  method<TemplateBody>(app, `${V}/templates/add`, 'templates', {
    summary: 'Create a message template; a field that does not parse is refused with its line and column',
    body: object({ name: name('Template name, unique'), channels: array(templateChannel, 'One entry per channel', 3) }, ['name', 'channels']),
    handler: async (body) => ({ data: { id: (await addTemplate(store, body)).id } }),
  });
  method<{ id: number | string }>(app, `${V}/templates/get`, 'templates', {
    summary: 'Get a template',
    body: object({ id: id('Template id') }, ['id']),
    handler: async (body) => ({ data: templateView(await loadTemplate(store, toId(body.id))) }),
  });
  method<Partial<TemplateBody> & { id: number | string }>(app, `${V}/templates/update`, 'templates', {
    summary: 'Change a template: a channel given replaces that channel, others stay',
    body: object({ id: id('Template id'), name: name('New name'), channels: array(templateChannel, 'Channels to replace', 3) }, ['id']),
    handler: async (body) => {
      const t = await updateTemplate(store, { ...body, id: toId(body.id) });
      catalog.forgetTemplate(t.id);
      return { data: templateView(t) };
    },
  });
  method(app, `${V}/templates/list`, 'templates', {
    summary: 'List templates',
    body: object({}),
    handler: async () => ({ data: (await store.listTemplates()).map(templateView) }),
  });
}
