/** subscriptions/set: Altcraft's "Add or edit subscription". */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toId } from '../../core/ids.ts';
import { SUBSCRIPTION_CHANNELS } from '../../core/types.ts';
import { setSubscription } from '../../engine/subscriptions.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { anyObject, anyValue, bool, id, object, oneOf, str, text } from '../schemas.ts';
import { subscriptionAnswer } from './profiles.ts';

export const subscriptionRoutes: FastifyPluginAsyncTypebox<{ store: Store }> = async (app, { store }) => {
  method(app, '/subscriptions/set', 'subscriptions', {
    summary: "Add a subscription to a profile, or change one (status, priority, custom_fields, cats)",
    description:
      'The subscription is named by resource_id, channel and its address: email, phone, provider + subscription_id, or cc_data ' +
      '(telegram_bot {"id": chat}, whatsapp, viber, notify {"phone": ...}). What is not given is kept; a new subscription is subscribed with priority 0.',
    body: object(
      {
        db_id: id('Profile database id'),
        profile_id: text('24-hex profile id'),
        resource_id: id('Resource id'),
        channel: oneOf(SUBSCRIPTION_CHANNELS, 'Channel'),
        email: str('Email, of an email subscription', 254),
        phone: anyValue('Phone, of an sms subscription'),
        provider: str('Push provider (Chrome, Firefox, android-firebase, ios-apns, ...)', 64),
        subscription_id: str('Push subscription id or endpoint', 4096),
        keys: anyObject("A browser subscription's keys {p256dh, auth}"),
        cc_data: anyObject('A messenger subscription\'s contact'),
        status: anyValue('subscribed, unsubscribed, complainer, hardbounced, unconfirmed, suspended, invalid, or its number 0-6; -1 or absent: keep'),
        priority: Type.Integer({ description: 'Higher is chosen first; -1 or absent: keep' }),
        custom_fields: anyObject('Subscription fields (resources/fields_get lists the system ones)'),
        cats: Type.Array(str('Category', 256), { maxItems: 100, description: 'Resource categories' }),
        date: str('Registration date (accepted; not kept)', 64),
        ip: str('Registration IP (accepted; not kept)', 64),
        url: str('Registration URL (accepted; not kept)', 2048),
        skip_triggers: bool('Accepted for compatibility; Salvo has no import triggers'),
        format: str('json (the only format)', 8),
      },
      ['db_id', 'profile_id', 'resource_id', 'channel'],
    ),
    data: subscriptionAnswer,
    errors: [404],
    handler: async (body) => ({ data: await setSubscription(store, { ...body, db_id: toId(body.db_id, 'db_id'), resource_id: toId(body.resource_id, 'resource_id') }) }),
  });
};
