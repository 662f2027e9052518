/**
 * campaigns/triggers/start_batch, import_and_start, import_and_start_batch, their _task forms, and
 * tasks/get.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { sentProfileIds } from '../../engine/batch.ts';
import { dryRunImportAndStart, dryRunLaunchBatch } from '../../engine/dry-run.ts';
import { type BatchKind, type BatchRequest, importAndStart, launchBatch, loadTask, queueBatchTask, taskView } from '../../engine/tasks.ts';
import type { FastifyReply } from 'fastify';
import { method } from '../api.ts';
import { answer, anyObject, array, bigId, id, int, list, matchingProperties, nullable, object, str, text } from '../schemas.ts';
import { importOptions } from './profiles.ts';
import { launchProperties, orDryRun, type TriggerOptions, withAttachments } from './triggers.ts';

const common = {
  trigger_id: id('Trigger campaign id'),
  id: id('Same as trigger_id'),
  ...launchProperties,
};
const startItem = object({
  email: str('Email, for matching email', 254),
  phone: str('Phone, for matching phone', 32),
  profile_id: str('Profile id, for matching profile_id', 24),
  field_value: Type.Unsafe<string | number | boolean>({ type: ['string', 'integer', 'boolean'], description: 'Value of field_name, for matching custom' }),
  subscription_id: str('Push subscription id, for matching push_sub', 4096),
  custom_data: anyObject("This item's custom_data (over the root one)"),
});
const importItem = object({ data: anyObject('The profile, as for profiles/import'), custom_data: anyObject("This item's custom_data") }, ['data']);

/** One item's answer, in its place: the profile and its message's fate, or why the item failed. */
const batchResult = Type.Union([
  answer({
    profile_id: nullable('string', 'The profile; null when the content filter stopped the launch'),
    status: text('queued, waiting or skipped'),
    skip_reason: Type.Optional(text('Why the message is skipped')),
  }),
  answer({ error: Type.Integer({ description: 'The error code' }), error_text: text('What is wrong, starting with the item: data[i]: ...') }),
]);
const results = {
  data: orDryRun(list(batchResult, 'One result per item, in order')),
  extra: { result: Type.Optional(list(text('Profile id'), 'Profiles whose message is on its way; absent with dry_run')) },
};
/** A dry run stores nothing, so there is no task to follow: the _task forms answer the dry run at once. */
const taskAccepted = { data: orDryRun(answer({ task_id: Type.Integer({ description: 'The task; follow it with tasks/get' }) })) };

const count = (description: string) => Type.Integer({ description });
const task = answer({
  task_id: count('Task id'),
  kind: text('start_batch or import_and_start_batch'),
  state: text('queued, running, done or failed'),
  launch_id: count('Its launch'),
  counts: answer({ total: count('Items'), processed: count('Items processed'), sent: count('Messages on their way'), skipped: count('Items skipped'), failed: count('Items refused') }),
  errors: list(answer({ index: count('Item index'), error: count('Error code'), error_text: text('What is wrong') }), 'Per-item errors (the first 1000)'),
  created: text('Created (ISO 8601)'),
  updated: text('Updated (ISO 8601)'),
  finished: nullable('string', 'Finished (ISO 8601)'),
});

export const batchRoutes: FastifyPluginAsyncTypebox<TriggerOptions> = async (app, { deps, limits, hooks }) => {
  const launchLimits = { attachLimit: limits.attachLimit, contentLimit: limits.contentLimit };
  const how = (asTask: boolean) =>
    asTask ? 'Answers {task_id} at once and runs in the background; follow it with tasks/get.' : 'One launch; one result per item, in order.';
  const start = (asTask: boolean) => ({
    summary: `Launch a campaign for many profiles named one per item${asTask ? ', in the background' : ''}`,
    description: `Items name profiles by the root matching: {email}, {phone}, {profile_id}, {field_value} (with field_name at the root) or {subscription_id}. ${how(asTask)} Items that fail are reported in place.`,
    bodyLimit: limits.batchBodyLimit,
    hooks: hooks.claimFirst,
    errors: [404] as 404[],
    body: startBody(),
  });
  const imports = (asTask: boolean) => ({
    summary: `Import many profiles and launch a campaign for them${asTask ? ', in the background' : ''}`,
    description: `Each item is {data: {...profile}, custom_data?}, imported as by profiles/import_batch into the campaign's database, then launched. ${how(asTask)}`,
    bodyLimit: limits.batchBodyLimit,
    hooks: hooks.claimFirst,
    errors: [404] as 404[],
    body: importBody(),
  });

  /** The whole batch now: the launch's id in Launch-Id, a result per item, and the profiles sent to in `result`. */
  const now = (kind: BatchKind) => async (body: BatchRequest, _req: unknown, reply: FastifyReply) => {
    if (body.dry_run === true) return { data: await dryRunLaunchBatch(deps, kind, body, limits) };
    const { launch, results } = await launchBatch(deps, kind, body, launchLimits);
    reply.header('Launch-Id', String(launch.id));
    return { data: results, extra: { result: sentProfileIds(results) } };
  };
  /** The batch as a background task: its id at once. */
  const queued = (kind: BatchKind) => async (body: BatchRequest) =>
    body.dry_run === true ? { data: await dryRunLaunchBatch(deps, kind, body, limits) } : { data: { task_id: (await queueBatchTask(deps, kind, body, launchLimits)).id } };

  method(app, '/campaigns/triggers/start_batch', 'triggers', { ...start(false), ...results, handler: now('start_batch') });
  method(app, '/campaigns/triggers/import_and_start_batch', 'triggers', { ...imports(false), ...results, handler: now('import_and_start_batch') });
  method(app, '/campaigns/triggers/start_batch_task', 'triggers', { ...start(true), ...taskAccepted, handler: queued('start_batch') });
  method(app, '/campaigns/triggers/import_and_start_batch_task', 'triggers', { ...imports(true), ...taskAccepted, handler: queued('import_and_start_batch') });

  const profileId = nullable('string', 'The profile imported; null when the content filter stopped the launch');
  method(app, '/campaigns/triggers/import_and_start', 'triggers', {
    summary: 'Import (add or update) one profile and launch a campaign for it, together',
    description: 'The import and the launch commit together or not at all. timeout {days, hours, minutes} holds the message that long (it survives a restart).',
    bodyLimit: withAttachments(limits.batchBodyLimit, limits.attachLimit),
    hooks: hooks.claimFirst,
    body: object(
      {
        ...common,
        db_id: id("The campaign's database (optional; it must be the campaign's)"),
        ...matchingProperties,
        data: anyObject('The profile, as for profiles/import'),
        ...importOptions,
        timeout: object({ days: int('Days', 0, 365), hours: int('Hours', 0, 8784), minutes: int('Minutes', 0, 527_040) }, [], 'Delay before sending'),
      },
      ['data'],
    ),
    data: orDryRun(answer({ profile_id: profileId })),
    extra: { profile_id: Type.Optional(profileId) },
    errors: [404, 409],
    handler: async (body, _req, reply) => {
      if (body.dry_run === true) return { data: await dryRunImportAndStart(deps, body, limits) };
      const r = await importAndStart(deps, body, launchLimits);
      reply.header('Launch-Id', String(r.launch.id));
      if ('refused' in r) throw r.refused;
      return { data: { profile_id: r.profileId }, extra: { profile_id: r.profileId } };
    },
  });

  method(app, '/tasks/get', 'triggers', {
    summary: "A background task's state (queued, running, done, failed), counts and per-item errors",
    body: object({ task_id: bigId('Task id') }, ['task_id']),
    data: task,
    errors: [404],
    handler: async (body) => ({ data: taskView(await loadTask(deps, body.task_id)) }),
  });
};

function startBody() {
  return object(
    {
      ...common,
      matching: matchingProperties.matching,
      field_name: matchingProperties.field_name,
      resource_id: id('Narrows email and phone matching'),
      data: array(startItem, 'Items', 100_000),
    },
    ['data'],
  );
}

function importBody() {
  return object({ ...common, matching: matchingProperties.matching, field_name: matchingProperties.field_name, ...importOptions, data: array(importItem, 'Items', 100_000) }, ['data']);
}
