/** campaigns/triggers/start: the trigger launch, Altcraft API v1.1. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type TSchema, Type } from 'typebox';
import { checkContentSize } from '../../core/content-size.ts';
import { notFound } from '../../core/errors.ts';
import { campaignIdOf, parseLaunch } from '../../core/launch-request.ts';
import { START_MATCHING } from '../../core/matching.ts';
import { dryRunStart, type DryRunLimits } from '../../engine/dry-run.ts';
import { inTurns } from '../../engine/in-turns.ts';
import { startLaunch, type LaunchDeps } from '../../engine/launch.ts';
import { method } from '../api.ts';
import type { DedupHooks } from '../dedup.ts';
import { answer, anyObject, anyObjectOrNull, array, bool, id, list, matchingProperties, nullable, object, oneOf, str, text } from '../schemas.ts';

/** What every launch method may carry for its messages. */
export const launchProperties = {
  content: anyObject('Content for the template ({apicontent.*}) and the campaign content filter'),
  custom_data: anyObject('Data carried with every event of the messages this call causes'),
  attach: array(
    object({ data: Type.String({ description: 'data:<mime>;base64,<data>' }), name: str('File name, kept exactly (日本.txt)', 255) }, ['data', 'name']),
    'Files attached to every message of the launch',
    100,
  ),
  dry_run: bool(
    'true: run everything (validation, content filter, audience, subscription choice, rendering) and store and send nothing; answers {audience, queued, skipped, skip_reasons, preview, errors, warnings, filtered, complete}',
  ),
};

const count = (description: string) => Type.Integer({ description });
/** What a launch method answers in `data` with dry_run: what the launch would do. */
export const dryRunAnswer = answer(
  {
    audience: count('Recipients the call reaches: queued + skipped'),
    queued: count('Messages that would be sent'),
    skipped: count('Messages that would be skipped'),
    skip_reasons: Type.Record(Type.String(), Type.Integer(), { description: 'Skipped messages by reason' }),
    preview: list(
      answer({
        profile_id: nullable('string', 'The profile; null for one import_and_start would create'),
        channel: text('email, sms or push'),
        address: nullable('string', 'Where it would go'),
        variant: nullable('integer', 'A/B content variant'),
        template_id: nullable('integer', 'Template'),
        subject: nullable('string', 'Subject as rendered'),
        text: nullable('string', 'Text as rendered'),
        html: nullable('string', 'HTML as rendered, with the click redirects and open pixel the resource switches on'),
        from: nullable('string', 'Email: the From address as sent'),
        headers: Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
          description: 'Email: the headers Salvo adds (List-Unsubscribe, List-Unsubscribe-Post); null for other channels',
        }),
        sms: Type.Optional(answer({ encoding: text('GSM 03.38 or UCS-2'), parts: count('Parts the SMS takes (160 GSM or 70 UCS-2 characters in one; 153 or 67 per part of several)') }, 'An SMS: its alphabet and parts')),
      }),
      'The first messages that would be sent, rendered',
    ),
    errors: list(
      answer({
        index: Type.Optional(count('Batch item index')),
        profile_id: Type.Optional(nullable('string', 'Previewed profile whose message fails to render')),
        error: count('Error code'),
        error_text: text('What is wrong'),
      }),
      'Batch items that fail, and previewed messages that fail to render',
    ),
    warnings: list(text('What resolves to nothing, and where'), 'Variables of the previewed templates that resolve to nothing with this content and profile ({apicontent.ordr} when the content has order)'),
    filtered: bool("true: the content does not match the campaign's content_filter; a real call sends nothing"),
    complete: bool('false: SALVO_DRY_RUN_SECONDS ran out before the custom_request audience was read to the end'),
  },
  'dry_run: what the launch would do; nothing is stored or sent',
);

/** A launch method's `data`, or with dry_run the dry run's answer. */
export const orDryRun = <T extends TSchema>(data: T) => Type.Union([data, dryRunAnswer]);


export interface TriggerOptions {
  deps: LaunchDeps;
  limits: { bodyLimit: number; batchBodyLimit: number; attachLimit: number; contentLimit: number } & DryRunLimits;
  /** Request deduplication (Request-ID) for the methods that launch. */
  hooks: DedupHooks;
}

/** Room for the attachment limit in base64 (4 bytes per 3) and the rest of the body. */
export const withAttachments = (bodyLimit: number, attachLimit: number) => Math.max(bodyLimit, Math.ceil((attachLimit * 4) / 3) + 1024 * 1024);

export const triggerRoutes: FastifyPluginAsyncTypebox<TriggerOptions> = async (app, { deps, limits, hooks }) => {
  method(app, '/campaigns/triggers/start', 'triggers', {
    summary: 'Launch a trigger campaign for one profile (matching) or an audience (custom_request)',
    description:
      'Answers {"data": null, "error": 0, "error_text": "Successful operation"} once the launch and its messages are stored; ' +
      'the launch id is in the Launch-Id header. Messages are then sent by the workers; see messages/list.',
    bodyLimit: withAttachments(limits.bodyLimit, limits.attachLimit),
    hooks: hooks.claimAtWrite,
    body: object({
      id: id('Trigger campaign id'),
      trigger_id: id('Same as id'),
      ...matchingProperties,
      matching: oneOf(START_MATCHING, 'Profile matching mode; email by default'),
      subscription_id: str('Push subscription id, for matching push_sub', 4096),
      resource_id: id('Narrows email and phone matching to subscriptions of this resource'),
      custom_request: anyObjectOrNull('MongoDB query over the campaign database, used when no matching is given; null is the same as absent'),
      subscription_filter: object(
        {
          email: str('Email subscription to use', 254),
          phone: str('SMS subscription to use', 32),
          subscription_id: str('Push subscription to use', 4096),
          provider: str('Push provider', 64),
          not_strict: Type.Boolean({ description: 'true: use another fitting subscription when this one is not found' }),
        },
        [],
        "Picks the profile's subscription; not used with custom_request",
      ),
      ...launchProperties,
    }),
    data: orDryRun(Type.Null({ description: 'null; the launch id is in the Launch-Id header' })),
    errors: [404, 409],
    handler: async (body, req, reply) => {
      const campaignId = campaignIdOf(body);
      checkContentSize(body, limits.contentLimit);
      const params = await inTurns(parseLaunch(body, limits.attachLimit));
      if (body.dry_run === true) return { data: await dryRunStart(deps, campaignId, params, limits) };
      const result = await startLaunch(deps, campaignId, params, 'start', req.dedupKey ?? null);
      reply.header('Launch-Id', String(result.launch.id));
      if (result.empty) throw notFound(`no profile matches custom_request (launch ${result.launch.id})`);
      return { data: null };
    },
  });
};
