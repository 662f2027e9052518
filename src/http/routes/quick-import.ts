/**
 * Altcraft's quick import, `POST /api/integrations/any/profile_import` (engine/quick-import.ts):
 * parameters in the query string, a JSON body or a form body (application/x-www-form-urlencoded, what
 * an HTML form posts), the body's overriding the URL's. Outside the API v1.1 scope: it answers as
 * Altcraft documents it, an HTTP status with a short text/plain description (no envelope), and a token
 * that is missing or wrong is 403 "Invalid API key" (Altcraft lists no 401).
 *
 * With `trigger_id` the call launches, so it is deduplicated as import_and_start is: a form posted
 * twice (a double click, a browser retry) sends once (http/dedup.ts; the key is the Request-ID, or
 * the checksum of the body and the query string).
 */
import { mayCall, roleRefusal } from '../../core/roles.ts';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest, preValidationHookHandler } from 'fastify';
import { badRequest, forbidden, type ErrorCode } from '../../core/errors.ts';
import type { LaunchDeps } from '../../engine/launch.ts';
import { quickImport } from '../../engine/quick-import.ts';
import type { LaunchLimits } from '../../engine/tasks.ts';
import type { TokenVerifier } from '../../engine/tokens.ts';
import { presentedToken, type RouteHooks } from '../api.ts';
import { errorHandler } from '../envelope.ts';

/** Altcraft's description of each status this method answers. */
const DESCRIPTIONS: Partial<Record<ErrorCode | 200, string>> = {
  200: 'Import successful',
  400: 'Bad request',
  403: 'Invalid API key',
  404: 'No database or subscription resource found',
  409: 'More than one profiles matches, inaccurate match',
  413: 'Request body too large',
  500: 'Internal error',
  503: 'Service unavailable, retry later',
};

/** Statuses whose answer names the exact problem after the description; 403 and 500 say no more. */
const DETAILED = new Set<number>([400, 404, 409, 413, 503]);

/** The status and Altcraft's description, and for a refusal the exact problem: `400 Bad request: field 'CRM_ID' must be ...`. */
function sendText(reply: FastifyReply, code: ErrorCode | 200, detail = ''): FastifyReply {
  const text = `${code} ${DESCRIPTIONS[code] ?? 'Error'}${detail && DETAILED.has(code) ? `: ${detail}` : ''}`;
  return reply.code(code).type('text/plain; charset=utf-8').send(text);
}

/** A form body as an object; a key given twice becomes a list (refused by the engine, naming it). */
function parseForm(req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void): void {
  req.rawBody = body; // deduplication keys a request without a Request-ID by a checksum of it
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of new URLSearchParams(body)) {
    if (k.includes('\u0000') || v.includes('\u0000')) {
      done(badRequest(`parameter '${k.replaceAll('\u0000', '')}' must not contain the NUL character`));
      return;
    }
    const had = Object.hasOwn(out, k) ? out[k] : undefined;
    // defineProperty: a key named __proto__ stays a plain key (refused later as no field), never a prototype.
    Object.defineProperty(out, k, { value: had === undefined ? v : [had, v].flat(), enumerable: true, writable: true, configurable: true });
  }
  done(null, out);
}

const objectOf = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/** The request's parameters: the query string's, then the body's over them. */
const paramsOf = (req: FastifyRequest): Record<string, unknown> => ({ ...objectOf(req.query), ...objectOf(req.body) });

export interface QuickImportOptions {
  deps: LaunchDeps;
  verifier: TokenVerifier;
  /** Deduplication, claimed before the request runs (import_and_start's). */
  dedup: RouteHooks;
  limits: LaunchLimits;
}

export const quickImportRoutes: FastifyPluginAsync<QuickImportOptions> = async (app, { deps, verifier, dedup, limits }) => {
  // Web forms post this type; @fastify/formbody is not a dependency, and URLSearchParams is all it takes.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string' }, (req, body, done) => parseForm(req, body as string, done));
  app.setErrorHandler(errorHandler(sendText));

  const checkToken = async (req: FastifyRequest) => {
    const token = presentedToken(req);
    const found = token === null ? null : await verifier.verify(token);
    if (found === null) throw forbidden('API token is missing or not valid');
    // It writes a profile, and launches too when it names a trigger (as import_and_start).
    const access = paramsOf(req).trigger_id === undefined ? 'write' : 'launch';
    if (!mayCall(found.role, access)) throw forbidden(roleRefusal(found.role, 'profile_import', access === 'write' ? 'import profiles' : 'import and launch'));
    req.tokenName = found.name;
    req.tokenRole = found.role;
  };
  /** Only a call that launches is deduplicated: a plain import written twice writes the same profile. */
  const whenLaunching = (hook: preValidationHookHandler): preValidationHookHandler =>
    async function (this: unknown, req, reply) {
      if (paramsOf(req).trigger_id === undefined) return;
      return (hook as unknown as (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>).call(this, req, reply);
    } as preValidationHookHandler;

  app.post('/api/integrations/any/profile_import', {
    // Its parameters may all be in the URL: they count in the deduplication checksum (http/dedup.ts).
    config: { queryInDedupKey: true },
    preValidation: [checkToken as preValidationHookHandler, ...dedup.preValidation.map(whenLaunching)],
    onSend: dedup.onSend,
    schema: {
      tags: ['profiles'],
      operationId: 'integrations_any_profile_import',
      summary: "Altcraft's quick import: a profile from flat parameters (URL, form or JSON); trigger_id launches a campaign for it",
      description:
        'Parameters: token, db_id, matching (email, email_profile, phone, field_name), field_name, email, phone, resource_id, trigger_id, ' +
        'and any database field by its name. Answers text/plain: "200 Import successful", or the status, its description and the problem. ' +
        'The profile id is in the Profile-Id header, a launch id in Launch-Id.',
      security: [],
      response: {
        200: { description: 'Import successful', content: { 'text/plain': { schema: { type: 'string' } } } },
        400: { description: 'Bad request, and the problem', content: { 'text/plain': { schema: { type: 'string' } } } },
        403: { description: 'Invalid API key (missing or not valid)', content: { 'text/plain': { schema: { type: 'string' } } } },
        404: { description: 'No database or subscription resource found, and what', content: { 'text/plain': { schema: { type: 'string' } } } },
        409: { description: 'More than one profiles matches, inaccurate match', content: { 'text/plain': { schema: { type: 'string' } } } },
      },
    },
    handler: async (req, reply) => {
      const r = await quickImport(deps, paramsOf(req), limits);
      reply.header('Profile-Id', r.profileId);
      if (r.launchId !== null) reply.header('Launch-Id', String(r.launchId));
      return sendText(reply, 200);
    },
  });
};
