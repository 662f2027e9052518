/**
 * templates/preview: a template as edited, rendered by the server for a recipient and content through
 * the dry-run path of a campaign that would send it (engine/dry-run.ts previewTemplate). Nothing is
 * stored or sent; the console's template editor calls it as the user types.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { checkContentSize } from '../../core/content-size.ts';
import { toId } from '../../core/ids.ts';
import { parseLaunch } from '../../core/launch-request.ts';
import { START_MATCHING } from '../../core/matching.ts';
import { checkTemplateChannels } from '../../core/templates.ts';
import type { Template } from '../../core/types.ts';
import { loadTemplate } from '../../engine/catalog-entries.ts';
import { type DryRunLimits, previewTemplate } from '../../engine/dry-run.ts';
import { inTurns } from '../../engine/in-turns.ts';
import type { LaunchDeps } from '../../engine/launch.ts';
import { method } from '../api.ts';
import { anyObject, array, id, matchingProperties, object, oneOf } from '../schemas.ts';
import { templateChannel } from './templates.ts';
import { dryRunAnswer } from './triggers.ts';

export const templatePreviewRoutes: FastifyPluginAsyncTypebox<{ deps: LaunchDeps; limits: DryRunLimits & { contentLimit: number; attachLimit: number } }> = async (app, { deps, limits }) => {
  method(app, '/templates/preview', 'templates', {
    summary: 'Render a template as edited (not saved) for one recipient and content, through a campaign that would send it: a dry run',
    description:
      'The campaign (active or not) sends the template as its only content: channels given replace those of template_id (or make a new one), ' +
      'and the answer is a dry run of campaigns/triggers/start for the recipient: preview (with From, headers, an SMS\'s parts), warnings, errors. Nothing is stored or sent.',
    body: object(
      {
        campaign_id: id('The campaign whose database, resource and channel the preview uses'),
        template_id: id('The stored template being edited; its channels not given are kept'),
        channels: array(templateChannel, 'Channels as edited', 3),
        ...matchingProperties,
        matching: oneOf(START_MATCHING, 'Profile matching mode; email by default'),
        content: anyObject('Content for {apicontent.*}'),
      },
      ['campaign_id'],
    ),
    data: dryRunAnswer,
    errors: [404],
    handler: async (body) => {
      checkContentSize(body, limits.contentLimit);
      const stored = body.template_id === undefined ? null : await loadTemplate(deps.store, toId(body.template_id, 'template_id'));
      const template: Template = {
        id: stored?.id ?? 0,
        name: stored?.name ?? 'preview',
        channels: { ...stored?.channels, ...(body.channels ? checkTemplateChannels(body.channels) : {}) },
        created_at: 0,
        updated_at: 0,
      };
      const params = await inTurns(parseLaunch(body, limits.attachLimit));
      return { data: await previewTemplate(deps, toId(body.campaign_id, 'campaign_id'), template, params, limits) };
    },
  });
};
