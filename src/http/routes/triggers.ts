/** campaigns/triggers/start: the trigger launch, Altcraft API v1.1. */
import type { FastifyInstance } from 'fastify';
import { badRequest, notFound } from '../../core/errors.ts';
import { parseLaunch, START_MATCHING, type StartBody } from '../../core/launch-request.ts';
import { dryRunStart, type DryRunLimits } from '../../engine/dry-run.ts';
import { startLaunch, type LaunchDeps } from '../../engine/launch.ts';
import { method, type MethodSpec } from '../api.ts';
import { checkContentSize } from '../content-limit.ts';
import { anyObject, array, bool, id, matchingProperties, object, str, toId } from '../schemas.ts';

const V = '/api/v1.1';

export const launchProperties = {
  content: anyObject('Content for the template ({apicontent.*}) and the campaign content filter'),
  custom_data: anyObject('Data carried with every event of the messages this call causes'),
  attach: array(
    object({ data: { type: 'string', description: 'data:<mime>;base64,<data>' }, name: str('File name, kept exactly (日本.txt)', 255) }, ['data', 'name']),
    'Files attached to every message of the launch',
    100,
  ),
  dry_run: bool('true: run everything (validation, content filter, audience, subscription choice, rendering) and store and send nothing; answers {audience, queued, skipped, skip_reasons, preview, errors, filtered, complete}'),
};

/** The campaign id of a trigger call: `id`, or `trigger_id` as other trigger methods name it. */
export function campaignIdOf(body: { id?: number | string; trigger_id?: number | string }): number {
  const raw = body.id ?? body.trigger_id;
  if (raw === undefined) throw badRequest("field 'id' is required");
  return toId(raw, body.id !== undefined ? 'id' : 'trigger_id');
}

export function triggerRoutes(app: FastifyInstance, deps: LaunchDeps, limits: { bodyLimit: number; attachLimit: number; contentLimit: number } & DryRunLimits, hooks: MethodSpec<unknown>['hooks']): void {
  method<StartBody & { id?: number | string; trigger_id?: number | string; dry_run?: boolean }>(app, `${V}/campaigns/triggers/start`, 'triggers', {
    summary: 'Launch a trigger campaign for one profile (matching) or an audience (custom_request)',
    description:
      'Answers {"data": null, "error": 0, "error_text": "Successful operation"} once the launch and its messages are stored; ' +
      'the launch id is in the Launch-Id header. Messages are then sent by the workers; see messages/list.',
    // Room for the attachment limit in base64 (4 bytes per 3) and the rest of the body.
    bodyLimit: Math.max(limits.bodyLimit, Math.ceil((limits.attachLimit * 4) / 3) + 1024 * 1024),
    hooks,
    body: object({
      id: id('Trigger campaign id'),
      trigger_id: id('Same as id'),
      ...matchingProperties,
      matching: { type: 'string', enum: [...START_MATCHING], description: 'Profile matching mode; email by default' },
      subscription_id: str('Push subscription id, for matching push_sub', 4096),
      resource_id: id('Narrows email and phone matching to subscriptions of this resource'),
      custom_request: anyObject('MongoDB query over the campaign database, used when no matching is given'),
      subscription_filter: object(
        {
          email: str('Email subscription to use', 254),
          phone: str('SMS subscription to use', 32),
          subscription_id: str('Push subscription to use', 4096),
          provider: str('Push provider', 64),
          not_strict: { type: 'boolean', description: 'true: use another fitting subscription when this one is not found' },
        },
        [],
        "Picks the profile's subscription; not used with custom_request",
      ),
      ...launchProperties,
    }),
    handler: async (body, _req, reply) => {
      const campaignId = campaignIdOf(body);
      checkContentSize(body, limits.contentLimit);
      const params = parseLaunch(body, limits.attachLimit);
      if (body.dry_run === true) return { data: await dryRunStart(deps, campaignId, params, limits) };
      const result = await startLaunch(deps, campaignId, params);
      reply.header('Launch-Id', String(result.launch.id));
      if (result.empty) throw notFound(`no profile matches custom_request (launch ${result.launch.id})`);
      return { data: null };
    },
  });
}
