/**
 * push_subscribe (engine/push-subscribe.ts) at Altcraft's path on its cookiesaver host, `POST /push_subscribe`,
 * and at `POST /api/v1.1/resources/push_subscribe`. Its credential is the resource's public
 * `resource_token`, not an API token, so it is outside the API scope. Pages on any origin call it:
 * these two paths, and only they, answer CORS for any origin (@fastify/cors is not a dependency; the
 * headers are set here) and its preflight. The body is small (64 KB, at most 20 subscriptions).
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import { pushSubscribe } from '../../engine/push-subscribe.ts';
import type { Store } from '../../store/store.ts';
import { keylessResponses } from '../api.ts';
import { SUCCESS } from '../envelope.ts';
import { anyObject, answer, array, bool, id, idOut, list, object, str, text } from '../schemas.ts';

const PATHS = ['/push_subscribe', '/api/v1.1/resources/push_subscribe'];
const BODY_LIMIT = 64 * 1024;
const MAX_SUBSCRIPTIONS = 20;

const body = object(
  {
    resource_token: str("The resource's resource_token (resources/get)", 256),
    id: str('Profile id (matching profile_id, the default when given), or the custom field value (matching custom)', 1000),
    db_ids: array(id('Database id'), "Databases to process; default: the databases of the campaigns using the resource", 100),
    matching: str("'profile_id' or 'custom'; absent: by id, or without id by the push subscriptions", 32),
    field_name: str("The custom field holding id, for matching 'custom' (a Salvo parameter)", 64),
    subscriptions: array(
      object(
        {
          provider: str('Push provider: android-firebase, ios-apns, Chrome, Firefox, ...', 64),
          subscription_id: str("The device's push token, or a browser subscription's endpoint URL", 4096),
          unsubscribe: bool('true: the subscription is set unsubscribed'),
          keys: anyObject("A browser (Web Push) subscription's keys {p256dh, auth}, from PushSubscription.toJSON()"),
        },
        ['provider', 'subscription_id'],
      ),
      `Push subscriptions to add or update (at most ${MAX_SUBSCRIPTIONS})`,
      MAX_SUBSCRIPTIONS,
    ),
  },
  ['resource_token', 'subscriptions'],
);

const data = answer({
  profile_id: text('The profile in the first database processed'),
  profiles: list(answer({ db_id: idOut('Database'), profile_id: text('The profile found or created there') }), 'The profile in each database processed, in order'),
});

/** Any origin may call: the page's own origin is unknown, and the token in it is public anyway. */
const allowAnyOrigin = (reply: FastifyReply) => reply.header('access-control-allow-origin', '*');

export const pushSubscribeRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
  // On every answer of these paths, errors included (the hook runs before anything can fail).
  app.addHook('onRequest', async (_req, reply) => {
    allowAnyOrigin(reply);
  });
  for (const path of PATHS) {
    app.options(path, { schema: { hide: true } }, async (req, reply) => {
      const asked = req.headers['access-control-request-headers'];
      return reply
        .code(204)
        .headers({
          'access-control-allow-methods': 'POST, OPTIONS',
          'access-control-allow-headers': typeof asked === 'string' && asked !== '' ? asked : 'content-type',
          'access-control-max-age': '86400',
        })
        .send();
    });
    app.post(path, {
      bodyLimit: BODY_LIMIT,
      schema: {
        tags: ['resources'],
        operationId: path === '/push_subscribe' ? 'push_subscribe' : 'resources_push_subscribe',
        summary: "Add or update a browser's or app's push subscriptions, authenticated by the resource's resource_token",
        description:
          'For pages and apps: no API token, CORS for any origin. Each database is processed on its own: the profile is found ' +
          '(by id, a custom field, or the subscriptions) or created. A wrong resource_token is 403 and changes nothing.',
        security: [],
        body,
        response: keylessResponses(data),
      },
      handler: async (req) => {
        const profiles = await pushSubscribe(store, req.body);
        return { error: 0, error_text: SUCCESS, data: { profile_id: profiles[0].profile_id, profiles } };
      },
    });
  }
};
