/** profiles/import, update, import_batch, get. */
import type { FastifyInstance } from 'fastify';
import { ApiError } from '../../core/errors.ts';
import {
  getProfile,
  itemMatchValue,
  loadDatabase,
  matchSpec,
  prepareItem,
  resourceIdsOf,
  writeProfiles,
  type ImportOptions,
  type ItemResult,
} from '../../engine/profiles.ts';
import type { Store } from '../../store/store.ts';
import { method } from '../api.ts';
import { anyObject, array, bool, id, matchingProperties, object, toId } from '../schemas.ts';

const V = '/api/v1.1';

interface ImportBody extends ImportOptions {
  db_id: number | string;
  data: Record<string, unknown>;
  skip_triggers?: boolean;
  [key: string]: unknown;
}

const PROFILE_DATA =
  'Profile fields (email, phones, _fname, _lname, _bdate, _sex, _status, custom fields) and ' +
  'subscriptions: [{resource_id, channel, email | phone | provider + subscription_id, status, priority}]';

const importOptions = {
  skip_triggers: bool('Accepted for compatibility; Salvo has no import triggers'),
  skip_invalid_subscriptions: bool('Drop invalid subscriptions instead of refusing the profile'),
};

export function profileRoutes(app: FastifyInstance, store: Store, batchBodyLimit: number): void {
  const importOne = (mode: 'upsert' | 'update') => async (body: ImportBody) => {
    const db = await loadDatabase(store, toId(body.db_id, 'db_id'));
    const spec = matchSpec(db, body);
    const rootName = spec.mode === 'custom' ? 'field_value' : spec.mode;
    const inData = itemMatchValue(spec, body.data);
    const fromRoot = body[rootName] !== undefined;
    const resources = await store.getResources(resourceIdsOf([inData.rest]));
    const [value, name] = fromRoot ? [body[rootName], rootName] : [inData.value, `data.${inData.name}`];
    const item = prepareItem(db, spec, inData.rest, value, name, resources, body);
    const [result] = await writeProfiles(store, db, spec, [item], mode, Date.now());
    if ('error' in result) throw new ApiError(result.error as ApiError['code'], result.error_text);
    return { data: { profile_id: result.profile_id }, extra: { profile_id: result.profile_id } };
  };
  const single = (required: string[]) =>
    object({ db_id: id('Profile database id'), ...matchingProperties, data: anyObject(PROFILE_DATA), ...importOptions }, required);

  method<ImportBody>(app, `${V}/profiles/import`, 'profiles', {
    summary: 'Add a profile, or update the one the matching finds; answers profile_id',
    body: single(['db_id', 'data']),
    handler: importOne('upsert'),
  });
  method<ImportBody>(app, `${V}/profiles/update`, 'profiles', {
    summary: 'Update the profile the matching finds (404 when there is none)',
    body: single(['db_id', 'data']),
    handler: importOne('update'),
  });

  interface BatchBody extends ImportOptions {
    db_id: number | string;
    data: Record<string, unknown>[];
  }
  method<BatchBody>(app, `${V}/profiles/import_batch`, 'profiles', {
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
    handler: async (body) => {
      const db = await loadDatabase(store, toId(body.db_id, 'db_id'));
      const spec = matchSpec(db, body);
      const resources = await store.getResources(resourceIdsOf(body.data));
      const items = body.data.map((data, i) => {
        try {
          const { value, name, rest } = itemMatchValue(spec, data);
          return prepareItem(db, spec, rest, value, name, resources, body, `data[${i}]`);
        } catch (e) {
          if (e instanceof ApiError) return { error: e.code, error_text: `data[${i}]: ${e.text}` } as ItemResult;
          throw e;
        }
      });
      return { data: await writeProfiles(store, db, spec, items, 'upsert', Date.now()) };
    },
  });

  method<{ db_id: number | string } & Record<string, unknown>>(app, `${V}/profiles/get`, 'profiles', {
    summary: 'Get the profile the matching finds, with its subscriptions',
    body: object({ db_id: id('Profile database id'), ...matchingProperties }, ['db_id']),
    handler: async (body) => ({ data: await getProfile(store, toId(body.db_id, 'db_id'), body) }),
  });
}
