/** resources/add|get|list: sending sources with their channels and sender settings. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { toId } from '../../core/ids.ts';
import { CHANNELS } from '../../core/types.ts';
import { addResource, listResources, loadResource, resourceView } from '../../engine/catalog-entries.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, anyObject, array, id, idOut, int, list, name, nullable, object, oneOf, settingsOrNull, str, text } from '../schemas.ts';

const emailSender = {
  from_email: str('Sender address', 254),
  from_name: str('Sender name', 255),
  replyto_email: str('Reply-To address', 254),
  replyto_name: str('Reply-To name', 255),
};

const resource = answer(
  {
    id: idOut('Resource id'),
    name: text('Name'),
    channels: list(text('Channel'), 'Channels the resource sends on'),
    email: settingsOrNull(emailSender, 'Email sender; null without the email channel'),
    sms: settingsOrNull({ sender: str('SMS sender name or number', 64) }, 'SMS settings; null without the sms channel'),
    push: settingsOrNull(
      { name: str('Push sender name', 255) },
      'Push settings (name, ttl, webpush, fcm, apns) without their secrets; null without the push channel',
    ),
    tracking_domain: nullable('string', 'Domain for links and v1.0 trigger URLs'),
    created: text('Created (ISO 8601)'),
  },
  'A resource',
);

export const resourceRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
  method(app, '/resources/add', 'resources', {
    summary: 'Create a resource: a sending source with its channels and sender settings',
    body: object(
      {
        name: name('Resource name, unique'),
        channels: array(oneOf(CHANNELS), 'Channels the resource sends on', 3),
        email: object(emailSender, [], "Email sender; required with the 'email' channel"),
        sms: object({ sender: str('SMS sender name or number', 64) }),
        push: object({
          name: str('Push sender name', 255),
          ttl: int('Seconds a push service keeps an undelivered push (default 86400)', 0, 2_419_200),
          webpush: object(
            { vapid_public_key: str('VAPID public key, base64url', 200), vapid_private_key: str('VAPID private key, base64url (never shown again)', 200), subject: str('mailto: or https: contact', 255) },
            ['vapid_public_key', 'vapid_private_key', 'subject'],
            'Web Push (VAPID) for browser subscriptions',
          ),
          fcm: object(
            { service_account: anyObject('The service account JSON key file (client_email, private_key, token_uri, project_id)'), endpoint: str('Default https://fcm.googleapis.com', 255) },
            ['service_account'],
            'Firebase Cloud Messaging HTTP v1 for android subscriptions',
          ),
          apns: object(
            {
              key_id: str('Key ID of the .p8 key', 64),
              team_id: str('Team ID', 64),
              private_key: str('The .p8 key (PEM, P-256; never shown again)', 4096),
              topic: str("The app's bundle id", 255),
              endpoint: str('Default https://api.push.apple.com; http:// for a local HTTP/2 server without TLS', 255),
            },
            ['key_id', 'team_id', 'private_key', 'topic'],
            'Apple Push Notification service (token auth) for ios subscriptions',
          ),
        }),
        tracking_domain: str('Domain for links and v1.0 trigger URLs', 255),
      },
      ['name', 'channels'],
    ),
    data: answer({ id: idOut('The new resource') }),
    errors: [409],
    handler: async (body) => ({ data: { id: (await addResource(store, body)).id } }),
  });
  method(app, '/resources/get', 'resources', {
    summary: 'Get a resource',
    body: object({ id: id('Resource id') }, ['id']),
    data: resource,
    errors: [404],
    handler: async (body) => ({ data: resourceView(await loadResource(store, toId(body.id))) }),
  });
  method(app, '/resources/list', 'resources', {
    summary: 'List resources',
    body: object({}),
    data: list(resource, 'Resources'),
    handler: async () => ({ data: (await listResources(store)).map(resourceView) }),
  });
};
