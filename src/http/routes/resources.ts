/** resources/add|update|get|list|delete|fields_get: sending sources with their channels, senders and providers. */
import { mayWriteSecrets } from '../../core/roles.ts';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toId } from '../../core/ids.ts';
import { SUBSCRIPTION_CHANNELS } from '../../core/types.ts';
import type { Catalog } from '../../engine/catalog.ts';
import { addResource, deleteCatalogEntry, type EgressCheck, listResources, loadResource, resourceView, updateResource } from '../../engine/catalog-entries.ts';
import { subscriptionFields } from '../../engine/subscriptions.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, anyObject, array, bool, id, idOut, int, list, name, nullable, object, oneOf, settingsOrNull, str, text } from '../schemas.ts';

const SECRET = ' (a secret: resources/get shows it as ********; sending that back keeps it)';

/** `email.limits` and `sms.limits` (core/send-limits.ts checks them again, with the texts the docs give). */
const limits = (channel: string) =>
  object(
    {
      per_second: int(`${channel} sends per second, across all processes`, 1, 1_000_000),
      per_hour: int(`${channel} sends per hour, paced evenly (3600/N s apart)`, 1, 1_000_000),
      per_domain_connections: int('Email only: sends in flight at once to one recipient domain, across all processes', 1, 1_000_000),
    },
    [],
    `Sending limits of the resource's ${channel}; a message over them waits (status waiting, no attempt charged)`,
  );

const emailSender = {
  from_email: str('Sender address', 254),
  from_name: str('Sender name', 255),
  replyto_email: str('Reply-To address', 254),
  replyto_name: str('Reply-To name', 255),
  track_opens: bool('Opens: an invisible pixel in the HTML (default false)'),
  track_clicks: bool("Clicks: each http(s) link of the HTML a signed redirect through the tracking domain (default false)"),
  unsubscribe_mailto: str('An address List-Unsubscribe names beside its URL (mailto:)', 254),
};

/** The resource's fields as resources/add takes them and resources/update changes them; core/resource-settings.ts checks them. */
const resourceFields = {
  channels: array(oneOf(SUBSCRIPTION_CHANNELS), 'Channels of the resource: email, sms and push send; notify, viber, whatsapp and telegram_bot hold subscriptions only', SUBSCRIPTION_CHANNELS.length),
  email: object(
    {
      ...emailSender,
      dkim: object(
        {
          domain: str('Signing domain (d=): the From domain or its parent, for DMARC alignment', 253),
          selector: str('Selector (s=): the public key is the TXT record <selector>._domainkey.<domain>', 63),
          private_key: str('RSA private key (PEM, 1024 bits or more; 2048 advised)' + SECRET, 10_000),
        },
        ['domain', 'selector', 'private_key'],
        'DKIM: every mail of the resource is signed (rsa-sha256, relaxed/relaxed)',
      ),
      limits: limits('Email'),
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
          method: oneOf(['GET', 'POST', 'PUT', 'PATCH'], 'Default POST'),
          headers: Type.Unsafe<Record<string, string>>({
            type: 'object',
            additionalProperties: { type: 'string' },
            description: 'Request headers; values are secrets except Content-Type, Accept, User-Agent',
          }),
          body: str('Body template with {to}, {sender}, {text} (JSON-escaped in a JSON body)', 65_536),
          timeout_seconds: int('Per request (default 15)', 1, 300),
        },
        ['url'],
        'SMS through an HTTP gateway',
      ),
      limits: limits('SMS'),
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

const resource = answer(
  {
    id: idOut('Resource id'),
    name: text('Name'),
    channels: list(text('Channel'), 'Channels the resource sends on'),
    email: settingsOrNull(emailSender, 'Email sender (and dkim, its private_key as ********); null without the email channel'),
    sms: settingsOrNull(
      {
        sender: str('SMS sender name or number', 64),
        smpp: answer({ url: text('smpp:// or smpps:// URL, its password as ********') }, 'SMS over SMPP 3.4 (tls, window, system_type, enquire_link_seconds as set)'),
        http: Type.Unsafe<object>({ type: 'object', additionalProperties: true, description: 'SMS through an HTTP gateway (url, method, headers, body, timeout_seconds), secrets as ********' }),
      },
      'SMS sender and provider, secrets as ********; null without the sms channel'),
    push: settingsOrNull({ name: str('Push sender name', 255) }, 'Push settings (name, ttl, webpush, fcm, apns), secrets as ********; null without the push channel'),
    tracking_domain: nullable('string', 'Domain for links and v1.0 trigger URLs'),
    resource_token: text('Public token for push_subscribe from browser and app pages (not a secret: pages embed it); resources/update rotate_resource_token replaces it'),
    created: text('Created (ISO 8601)'),
  },
  'A resource',
);

export const resourceRoutes: FastifyPluginAsyncTypebox<{ store: Store; catalog: Catalog; egress: EgressCheck }> = async (app, { store, catalog, egress }) => {
  method(app, '/resources/add', 'resources', {
    summary: 'Create a resource: a sending source with its channels, senders and providers',
    body: object({ name: name('Resource name, unique'), ...resourceFields }, ['name', 'channels']),
    data: answer({ id: idOut('The new resource') }),
    errors: [409],
    handler: async (body, req) => ({ data: { id: (await addResource(store, body, egress, mayWriteSecrets(req.tokenRole ?? 'admin'))).id } }),
  });
  method(app, '/resources/update', 'resources', {
    summary: 'Change a resource: each field given replaces the stored one; a secret sent back as ******** is kept',
    body: object(
      { id: id('Resource id'), name: name('New name'), ...resourceFields, rotate_resource_token: bool('true: replace resource_token with a new one; the old one stops working') },
      ['id'],
    ),
    data: resource,
    errors: [404, 409],
    handler: async (body, req) => ({ data: resourceView(await updateResource({ store, catalog, egress }, { ...body, id: toId(body.id) }, mayWriteSecrets(req.tokenRole ?? 'admin'))) }),
  });
  method(app, '/resources/get', 'resources', {
    summary: 'Get a resource',
    body: object({ id: id('Resource id') }, ['id']),
    data: resource,
    errors: [404],
    handler: async (body) => ({ data: resourceView(await loadResource(store, toId(body.id))) }),
  });
  method(app, '/resources/fields_get', 'resources', {
    summary: "The subscription fields of a resource's channel (Altcraft's shape)",
    description: 'The system fields Altcraft documents for push subscriptions; subscription custom_fields are kept as given, so there are no declared custom ones.',
    body: object({ id: id('Resource id'), channel: oneOf(SUBSCRIPTION_CHANNELS, 'A channel of the resource') }, ['id', 'channel']),
    data: list(
      answer({
        category: text('system or custom'),
        title: text('Title'),
        name: text('Key in custom_fields'),
        required: bool('Whether a subscription must have it'),
        type: text('unicode, int, bool or version'),
        dictionary: Type.Optional(text('The value list it takes its values from')),
      }),
      'Subscription fields',
    ),
    errors: [404],
    handler: async (body) => ({ data: await subscriptionFields(store, toId(body.id), body.channel) }),
  });
  method(app, '/resources/list', 'resources', {
    summary: 'List resources',
    body: object({}),
    data: list(resource, 'Resources'),
    handler: async () => ({ data: (await listResources(store)).map(resourceView) }),
  });
  method(app, '/resources/delete', 'resources', {
    summary: 'Delete a resource; refused (409) while campaigns (deleted ones kept for statistics too) or subscriptions use it',
    body: object({ id: id('Resource id') }, ['id']),
    data: Type.Null({ description: 'null' }),
    errors: [404, 409],
    handler: async (body) => {
      await deleteCatalogEntry({ store, catalog }, 'resource', toId(body.id));
      return { data: null };
    },
  });
};
