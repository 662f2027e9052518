/**
 * campaigns/triggers/start_batch, import_and_start, import_and_start_batch, their _task forms, and
 * tasks/get.
 */
import type { FastifyInstance } from 'fastify';
import { ApiError, badRequest } from '../../core/errors.ts';
import { decodeAttachments } from '../../core/attachments.ts';
import type { BatchResult } from '../../engine/batch.ts';
import { dryRunBatch, type DryRunLimits } from '../../engine/dry-run.ts';
import type { LaunchDeps } from '../../engine/launch.ts';
import { PRIORITY } from '../../engine/recipients.ts';
import { createTask, runBatch, taskView, type BatchKind } from '../../engine/tasks.ts';
import { notFound } from '../../core/errors.ts';
import { method, type MethodSpec } from '../api.ts';
import { checkBatchContentSize } from '../content-limit.ts';
import { anyObject, array, bigId, bool, id, int, matchingProperties, object, str } from '../schemas.ts';
import { campaignIdOf, launchProperties } from './triggers.ts';

const V = '/api/v1.1';
type Body = Record<string, unknown> & { id?: number | string; trigger_id?: number | string; data: unknown[] };
type Hooks = MethodSpec<unknown>['hooks'];

const common = {
  trigger_id: id('Trigger campaign id'),
  id: id('Same as trigger_id'),
  ...launchProperties,
};
const importOptions = {
  skip_triggers: bool('Accepted for compatibility; Salvo has no import triggers'),
  skip_invalid_subscriptions: bool('Drop invalid subscriptions instead of refusing the profile'),
};
const startItem = object({
  email: str('Email, for matching email', 254),
  phone: str('Phone, for matching phone', 32),
  profile_id: str('Profile id, for matching profile_id', 24),
  field_value: { type: ['string', 'integer', 'boolean'], description: 'Value of field_name, for matching custom' },
  subscription_id: str('Push subscription id, for matching push_sub', 4096),
  custom_data: anyObject("This item's custom_data (over the root one)"),
});
const importItem = object({ data: anyObject('The profile, as for profiles/import'), custom_data: anyObject("This item's custom_data") }, ['data']);

const contentOf = (body: Record<string, unknown>, limits: { attachLimit: number; contentLimit: number }) => {
  for (const key of ['content', 'custom_data'] as const) {
    const v = body[key];
    if (v !== undefined && v !== null && (typeof v !== 'object' || Array.isArray(v))) throw badRequest(`field '${key}' must be an object`);
  }
  checkBatchContentSize(body, limits.contentLimit);
  const attachLimit = limits.attachLimit;
  return {
    content: (body.content as Record<string, unknown>) ?? {},
    customData: (body.custom_data as Record<string, unknown>) ?? null,
    attachments: decodeAttachments(body.attach, attachLimit),
  };
};

/** Profile ids whose message is on its way, as Altcraft's `result` lists them. */
const sentTo = (results: BatchResult[]) => results.flatMap((r) => ('status' in r && r.status !== 'skipped' && r.profile_id ? [r.profile_id] : []));

/** import_and_start's `timeout`: how long to hold the message, at most a year. */
function delayOf(t: unknown): number {
  if (t === undefined || t === null) return 0;
  const { days = 0, hours = 0, minutes = 0 } = t as Record<string, number>;
  const ms = ((days * 24 + hours) * 60 + minutes) * 60_000;
  if (ms > 365 * 86_400_000) throw badRequest("field 'timeout' is longer than a year");
  return ms;
}

export function batchRoutes(app: FastifyInstance, deps: LaunchDeps, limits: { batchBodyLimit: number; attachLimit: number; contentLimit: number } & DryRunLimits, hooks: Hooks): void {
  const batch = (kind: BatchKind, asTask: boolean) => async (body: Body, _req: unknown, reply: { header: (k: string, v: string) => unknown }) => {
    const campaignId = campaignIdOf(body);
    const p = contentOf(body, limits);
    // A dry run stores nothing, so there is no task to follow: the _task forms answer the dry run at once.
    if (body.dry_run === true) return { data: await dryRunBatch(deps, kind, campaignId, body, body.data, p, limits) };
    if (asTask) return { data: { task_id: (await createTask(deps, kind, campaignId, body, body.data, p)).id } };
    const { launch, results } = await runBatch(deps, kind, campaignId, body, body.data, p);
    reply.header('Launch-Id', String(launch.id));
    return { data: results, extra: { result: sentTo(results) } };
  };

  for (const asTask of [false, true]) {
    const suffix = asTask ? '_task' : '';
    const how = asTask ? 'Answers {task_id} at once and runs in the background; follow it with tasks/get.' : 'One launch; one result per item, in order.';
    method<Body>(app, `${V}/campaigns/triggers/start_batch${suffix}`, 'triggers', {
      summary: `Launch a campaign for many profiles named one per item${asTask ? ', in the background' : ''}`,
      description: `Items name profiles by the root matching: {email}, {phone}, {profile_id}, {field_value} (with field_name at the root) or {subscription_id}. ${how} Items that fail are reported in place.`,
      bodyLimit: limits.batchBodyLimit,
      hooks,
      body: object({ ...common, matching: matchingProperties.matching, field_name: matchingProperties.field_name, resource_id: id('Narrows email and phone matching'), data: array(startItem, 'Items', 100_000) }, ['data']),
      handler: batch('start_batch', asTask) as never,
    });
    method<Body>(app, `${V}/campaigns/triggers/import_and_start_batch${suffix}`, 'triggers', {
      summary: `Import many profiles and launch a campaign for them${asTask ? ', in the background' : ''}`,
      description: `Each item is {data: {...profile}, custom_data?}, imported as by profiles/import_batch into the campaign's database, then launched. ${how}`,
      bodyLimit: limits.batchBodyLimit,
      hooks,
      body: object({ ...common, matching: matchingProperties.matching, field_name: matchingProperties.field_name, ...importOptions, data: array(importItem, 'Items', 100_000) }, ['data']),
      handler: batch('import_and_start_batch', asTask) as never,
    });
  }

  method<Record<string, unknown> & { id?: number | string; trigger_id?: number | string; data: Record<string, unknown> }>(app, `${V}/campaigns/triggers/import_and_start`, 'triggers', {
    summary: 'Import (add or update) one profile and launch a campaign for it, together',
    description: 'The import and the launch commit together or not at all. timeout {days, hours, minutes} holds the message that long (it survives a restart).',
    bodyLimit: Math.max(limits.batchBodyLimit, Math.ceil((limits.attachLimit * 4) / 3) + 1024 * 1024),
    hooks,
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
    handler: async (body, _req, reply) => {
      const campaignId = campaignIdOf(body);
      const p = contentOf(body, limits);
      const rootName = body.matching === 'custom' ? 'field_value' : ((body.matching as string | undefined) ?? 'email');
      const item = { data: body.data, custom_data: undefined, match_value: body[rootName] };
      const delay = delayOf(body.timeout);
      const o = { priority: PRIORITY.trigger, notBefore: delay ? Date.now() + delay : undefined, dbId: body.db_id };
      if (body.dry_run === true) return { data: await dryRunBatch(deps, 'import_and_start_batch', campaignId, { ...body, data: [item] }, [item], p, limits, o) };
      const { launch, results } = await runBatch(deps, 'import_and_start_batch', campaignId, { ...body, data: [item] }, [item], p, o);
      reply.header('Launch-Id', String(launch.id));
      const [r] = results;
      if ('error' in r) throw new ApiError(r.error as ApiError['code'], r.error_text.replace(/^data\[0\]: /, ''));
      return { data: { profile_id: r.profile_id }, extra: { profile_id: r.profile_id } };
    },
  });

  method<{ task_id: number }>(app, `${V}/tasks/get`, 'triggers', {
    summary: "A background task's state (queued, running, done, failed), counts and per-item errors",
    body: object({ task_id: bigId('Task id') }, ['task_id']),
    handler: async (body) => {
      const t = await deps.store.getTask(body.task_id);
      if (!t) throw notFound(`task ${body.task_id} not found`);
      return { data: taskView(t) };
    },
  });
}
