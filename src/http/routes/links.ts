/**
 * Altcraft API v1.0 links: GET or POST `/trg/<key>/<email|md5|xxh>`. The 128-bit key in the link is
 * the credential, as in Altcraft; a token sent as well (body, Bearer or ?token=) must be valid.
 *
 * The link is resolved, and a token sent with it checked, before anything else runs, deduplication
 * included: a request whose link names no campaign writes nothing, so anyone can post to random
 * links without leaving rows behind.
 */
import type { FastifyInstance, FastifyRequest, preValidationHookHandler } from 'fastify';
import { forbidden } from '../../core/errors.ts';
import type { FieldInput } from '../../core/links.ts';
import type { Campaign } from '../../core/types.ts';
import { campaignOfLink, launchByLink } from '../../engine/links.ts';
import type { LaunchDeps } from '../../engine/launch.ts';
import type { TokenVerifier } from '../../engine/tokens.ts';
import { presentedToken, tokenValue, type MethodSpec } from '../api.ts';
import { checkContentSize } from '../content-limit.ts';
import { SUCCESS } from '../envelope.ts';
import { anyObject, array, object, str } from '../schemas.ts';

type Params = { key: string; who: string };
type Hooks = NonNullable<MethodSpec<unknown>['hooks']>;

declare module 'fastify' {
  interface FastifyRequest {
    linkCampaign?: Campaign;
  }
}

const params = object({ key: str('The link key (32 hex)', 64), who: str('An email, the MD5 of an email (32 hex) or its XXH64 (16 hex)', 320) }, ['key', 'who']);
const field = object({ name: str('Profile field name; a name that is no field is ignored', 64), value: { description: 'The value, of the field type' }, option: { type: 'integer', enum: [0, 1, 2], description: '0: only where the field is empty; 1: this message only; 2: this message and the database' } }, ['name', 'value', 'option']);

export function linkRoutes(app: FastifyInstance, deps: LaunchDeps, verifier: TokenVerifier, hooks: Hooks, limits: { contentLimit: number }): void {
  const resolve = async (req: FastifyRequest) => {
    const token = presentedToken(req) ?? tokenValue((req.query as { token?: unknown } | undefined)?.token, "'token' in the query string");
    if (token !== null && (await verifier.verify(token)) === null) throw forbidden('API token is not valid');
    req.linkCampaign = await campaignOfLink(deps, (req.params as Params).key);
  };
  const routeHooks = { preValidation: [resolve as preValidationHookHandler, ...hooks.preValidation], onSend: hooks.onSend };
  const launch = (req: FastifyRequest<{ Params: Params }>, body: { fields?: FieldInput[]; content?: Record<string, unknown> }) =>
    launchByLink(deps, req.linkCampaign!, req.params.who, body);

  app.get<{ Params: Params }>('/trg/:key/:who', {
    ...routeHooks,
    schema: { tags: ['v1.0'], summary: 'API v1.0 link: launch the campaign for one profile', params, querystring: object({ token: str('Optional API token', 256) }) },
    handler: async (req, reply) => {
      const result = await launch(req, {});
      reply.header('Launch-Id', String(result.launch.id));
      return { error: 0, error_text: SUCCESS, data: null };
    },
  });
  app.post<{ Params: Params; Body: { fields?: FieldInput[]; content?: Record<string, unknown> } }>('/trg/:key/:who', {
    ...routeHooks,
    schema: {
      tags: ['v1.0'],
      summary: 'API v1.0 link with a JSON body: field values (fields) and content',
      params,
      body: object({ token: str('Optional API token', 256), fields: array(field, 'Field values for this launch', 500), content: anyObject('Content, as in v1.1') }),
    },
    handler: async (req, reply) => {
      checkContentSize(req.body ?? {}, limits.contentLimit);
      const result = await launch(req, req.body ?? {});
      reply.header('Launch-Id', String(result.launch.id));
      return { error: 0, error_text: SUCCESS, data: null };
    },
  });
}
