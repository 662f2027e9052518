/**
 * Altcraft API v1.0 links: GET or POST `/trg/<key>/<email|md5|xxh>`. The 128-bit key in the link is
 * the credential, as in Altcraft; a token sent as well (body, Bearer or ?token=) must be valid.
 *
 * The link is resolved, and a token sent with it checked, before anything else runs, deduplication
 * included: a request whose link names no campaign writes nothing, so anyone can post to random
 * links without leaving rows behind.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest, preValidationHookHandler } from 'fastify';
import { Type } from 'typebox';
import { checkContentSize } from '../../core/content-size.ts';
import { forbidden } from '../../core/errors.ts';
import type { FieldInput } from '../../core/links.ts';
import type { Campaign } from '../../core/types.ts';
import { campaignOfLink, launchByLink } from '../../engine/links.ts';
import type { LaunchDeps } from '../../engine/launch.ts';
import type { TokenVerifier } from '../../engine/tokens.ts';
import { linkResponses, presentedToken, type RouteHooks } from '../api.ts';
import { SUCCESS } from '../envelope.ts';
import { anyObject, anyValue, array, object, str } from '../schemas.ts';

declare module 'fastify' {
  interface FastifyRequest {
    linkCampaign?: Campaign;
  }
}

const params = object({ key: str('The link key (32 hex)', 64), who: str('An email, the MD5 of an email (32 hex) or its XXH64 (16 hex)', 320) }, ['key', 'who']);
const field = object(
  {
    name: str('Profile field name; a name that is no field is ignored', 64),
    value: anyValue('The value, of the field type'),
    option: Type.Unsafe<FieldInput['option']>({ type: 'integer', enum: [0, 1, 2], description: '0: only where the field is empty; 1: this message only; 2: this message and the database' }),
  },
  ['name', 'value', 'option'],
);

export interface LinkOptions {
  deps: LaunchDeps;
  verifier: TokenVerifier;
  hooks: RouteHooks;
  limits: { contentLimit: number };
}

export const linkRoutes: FastifyPluginAsyncTypebox<LinkOptions> = async (app, { deps, verifier, hooks, limits }) => {
  const resolve = async (req: FastifyRequest) => {
    const token = presentedToken(req);
    if (token !== null && (await verifier.verify(token)) === null) throw forbidden('API token is not valid');
    req.linkCampaign = await campaignOfLink(deps, (req.params as { key: string }).key);
  };
  const routeHooks = { preValidation: [resolve as preValidationHookHandler, ...hooks.preValidation], onSend: hooks.onSend };
  const launched = { error: 0, error_text: SUCCESS, data: null };

  app.get('/trg/:key/:who', {
    ...routeHooks,
    schema: {
      tags: ['v1.0'],
      operationId: 'trg_get',
      summary: 'API v1.0 link: launch the campaign for one profile',
      params,
      querystring: object({ token: str('Optional API token', 256) }),
      response: linkResponses(),
    },
    handler: async (req, reply) => {
      const result = await launchByLink(deps, req.linkCampaign!, req.params.who, {});
      reply.header('Launch-Id', String(result.launch.id));
      return launched;
    },
  });
  app.post('/trg/:key/:who', {
    ...routeHooks,
    schema: {
      tags: ['v1.0'],
      operationId: 'trg_post',
      summary: 'API v1.0 link with a JSON body: field values (fields) and content',
      params,
      body: object({ token: str('Optional API token', 256), fields: array(field, 'Field values for this launch', 500), content: anyObject('Content, as in v1.1') }),
      response: linkResponses(),
    },
    handler: async (req, reply) => {
      checkContentSize(req.body ?? {}, limits.contentLimit);
      const result = await launchByLink(deps, req.linkCampaign!, req.params.who, req.body ?? {});
      reply.header('Launch-Id', String(result.launch.id));
      return launched;
    },
  });
};
