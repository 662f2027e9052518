/** profiles/import, update, import_batch, get, list, delete (a GDPR erasure) and erasures (its record). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import { toId } from '../../core/ids.ts';
import { SUBSCRIPTION_STATUSES } from '../../core/types.ts';
import { deleteProfile, listErasures } from '../../engine/erasure.ts';
import { listProfiles } from '../../engine/profile-list.ts';
import { getProfile, importProfile, importProfiles } from '../../engine/profiles.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { answer, anyObject, array, bool, id, idOut, int, list, matchingProperties, nullable, object, oneOf, str, text } from '../schemas.ts';

const PROFILE_DATA =
  'Profile fields (email, phones, the system fields _fname, _lname, _bdate, _sex, _status, _city, ... and custom fields; ' +
  'a value may be an update function {action, value, submatch}) and ' +
  'subscriptions: [{resource_id, channel, email | phone | provider + subscription_id | cc_data, status, priority, custom_fields, cats}]';

const segmentIds = (what: string) => Type.Unsafe<unknown[]>({ type: 'array', items: {}, description: `${what}: not supported (Salvo has no segments); a list naming any is a 400` });

export const importOptions = {
  skip_triggers: bool('Accepted for compatibility; Salvo has no import triggers'),
  skip_invalid_subscriptions: bool('Drop invalid subscriptions instead of refusing the profile'),
  detect_geo: bool('Accepted for compatibility; Salvo does not detect geo fields from _ip or _regip (docs/api.md)'),
  add_to_segments: segmentIds('Segments to add the profile to'),
  remove_from_segments: segmentIds('Segments to remove the profile from'),
};

const profileId = text('24-hex profile id');

/** One item of a batch's answer, in its place: the profile written, or why the item failed. */
const itemResult = Type.Union([
  answer({ profile_id: profileId }),
  answer({ error: Type.Integer({ description: 'The error code' }), error_text: text('What is wrong, starting with the item: data[i]: ...') }),
]);

const subscription = answer({
  id: idOut('Subscription id'),
  resource_id: idOut('Resource id'),
  channel: text('email, sms or push'),
  email: Type.Optional(text('Email, of an email subscription')),
  phone: Type.Optional(text('Phone, of an sms subscription')),
  provider: Type.Optional(nullable('string', 'Push provider')),
  subscription_id: Type.Optional(text('Push subscription id')),
  keys: Type.Optional(answer({ p256dh: text("A browser subscription's public key (its auth secret is never shown)") })),
  cc_data: Type.Optional(anyObject('A messenger subscription\'s contact: {"id": chat} (telegram_bot) or {"phone": ...} (whatsapp, viber, notify)')),
  status: oneOf(SUBSCRIPTION_STATUSES, 'The subscription status'),
  priority: Type.Integer({ description: 'Higher is chosen first' }),
  custom_fields: Type.Optional(anyObject('Subscription fields, as given')),
  cats: Type.Optional(list(text('Category'), 'Resource categories, as given')),
});

const profile = answer(
  {
    id: profileId,
    db_id: idOut('Profile database id'),
    _id: profileId,
    email: nullable('string', 'Email'),
    phones: list(text('Phone'), 'Phones'),
    _status: text('Global status'),
    _md5: nullable('string', 'MD5 of the email'),
    _xxh: nullable('string', 'XXH64 of the email'),
    subscriptions: list(subscription, 'Subscriptions'),
  },
  'The profile: system fields, its custom fields by name, and its subscriptions',
);

export { subscription as subscriptionAnswer };

export const profileRoutes: FastifyPluginAsyncTypebox<{ store: Store; batchBodyLimit: number }> = async (app, { store, batchBodyLimit }) => {
  const single = object({ db_id: id('Profile database id'), ...matchingProperties, data: anyObject(PROFILE_DATA), ...importOptions }, ['db_id', 'data']);
  /** profiles/import and profiles/update: the same request, answering the profile's id in data and beside it. */
  const importing = (mode: 'upsert' | 'update') => ({
    body: single,
    data: answer({ profile_id: profileId }),
    extra: { profile_id: profileId },
    errors: [404, 409] as (404 | 409)[],
    handler: async (body: Static<typeof single>) => {
      const id = await importProfile(store, { ...body, db_id: toId(body.db_id, 'db_id') }, mode);
      return { data: { profile_id: id }, extra: { profile_id: id } };
    },
  });
  method(app, '/profiles/import', 'profiles', { summary: 'Add a profile, or update the one the matching finds; answers profile_id', ...importing('upsert') });
  method(app, '/profiles/update', 'profiles', { summary: 'Update the profile the matching finds (404 when there is none)', ...importing('update') });

  method(app, '/profiles/import_batch', 'profiles', {
    summary: 'Add or update many profiles in one transaction; one result per item, in order',
    description:
      'Each item is profile data as for profiles/import; it is matched by its own email, phones[0] (or phone), ' +
      'profile_id, or custom field. An item that fails is reported in its place; the others are written.',
    bodyLimit: batchBodyLimit,
    body: object(
      {
        db_id: id('Profile database id'),
        matching: matchingProperties.matching,
        field_name: matchingProperties.field_name,
        data: array(anyObject(PROFILE_DATA), 'Profiles', 10_000),
        ...importOptions,
      },
      ['db_id', 'data'],
    ),
    data: list(itemResult, 'One result per item, in order'),
    errors: [404],
    handler: async (body) => ({ data: await importProfiles(store, { ...body, db_id: toId(body.db_id, 'db_id') }) }),
  });

  method(app, '/profiles/list', 'profiles', {
    summary: "A page of a database's profiles in id order, narrowed by a MongoDB query; next_from_id continues",
    description:
      'A page may hold fewer than limit profiles while next_from_id is not null (a selective query reads at most 10,000 profiles a call): ' +
      'call again with from_id = next_from_id until it is null.',
    body: object(
      {
        db_id: id('Profile database id'),
        from_id: str('next_from_id of the previous page; empty or absent for the first', 64),
        limit: int('Profiles per page (default 1000)', 1, 1000),
        query: anyObject('MongoDB query over the profiles, as custom_request'),
        fields: array(str('A profile field, or subscriptions', 64), 'Fields to answer (id always comes)', 200),
        format: str('json (the only format)', 8),
      },
      ['db_id'],
    ),
    data: list(anyObject('A profile, as profiles/get shows it (or its fields asked for)'), 'Profiles'),
    extra: { next_from_id: nullable('string', 'from_id of the next page; null at the end') },
    errors: [404],
    handler: async (body) => {
      const { data, next_from_id } = await listProfiles(store, { ...body, db_id: toId(body.db_id, 'db_id') });
      return { data, extra: { next_from_id } };
    },
  });

  method(app, '/profiles/get', 'profiles', {
    summary: 'Get the profile the matching finds, with its subscriptions',
    body: object({ db_id: id('Profile database id'), ...matchingProperties }, ['db_id']),
    data: profile,
    errors: [404, 409],
    handler: async (body) => ({ data: await getProfile(store, toId(body.db_id, 'db_id'), body) }),
  });

  method(app, '/profiles/delete', 'profiles', {
    summary: 'Erase the profile the matching finds (GDPR): the profile, its subscriptions, and the personal data of its messages',
    description:
      'Deletes the profile, its subscriptions and index keys. Its messages stay, for statistics, without address, subject, body, ' +
      'overrides, custom_data, last_error or history details; those not sent yet are skipped (profile_deleted). Launches that went to ' +
      'this profile alone lose their content, custom_data and attachments; the outbox copies of its messages and the webhook ' +
      'deliveries still pending about it are deleted. The erasure is recorded (profiles/erasures). Any valid API token may erase.',
    body: object(
      { db_id: id('Profile database id'), ...matchingProperties, resource_id: id('Accepted for compatibility; the profile is matched as profiles/get matches it') },
      ['db_id'],
    ),
    data: answer({ profile_id: profileId }),
    errors: [404, 409],
    handler: async (body, req) => {
      const profileId = await deleteProfile(store, { ...body, db_id: toId(body.db_id, 'db_id') }, req.tokenName!, req.log);
      return { data: { profile_id: profileId } };
    },
  });

  method(app, '/profiles/erasures', 'profiles', {
    summary: 'Erasures made by profiles/delete, newest first: which profile id, which database, which API token, when',
    body: object({ db_id: id('Only those of this profile database'), limit: int('At most this many (default 100)', 1, 1000) }),
    data: list(
      answer({
        id: idOut('Erasure id'),
        profile_id: profileId,
        db_id: idOut('Profile database id'),
        token: text('Name of the API token that erased it'),
        time: text('When (ISO 8601)'),
      }),
      'Erasures',
    ),
    handler: async (body) => ({ data: await listErasures(store, body.db_id === undefined ? null : toId(body.db_id, 'db_id'), body.limit ?? 100) }),
  });
};
