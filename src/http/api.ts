/**
 * Declaring an API method: `POST /api/v1.1/<family>/<verb>` (the prefix is the plugin's) with its
 * body and answer schemas, behind the token check, answering the envelope. The schemas validate the
 * request, type the handler, serialize the answer and write the OpenAPI document.
 */
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyReply,
  FastifyRequest,
  onSendHookHandler,
  preValidationHookHandler,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import { type Static, type TObject, type TProperties, type TSchema, Type } from 'typebox';
import { unauthorized, forbidden } from '../core/errors.ts';
import { type Access, accessOfPath, mayCall, type Role, roleRefusal } from '../core/roles.ts';
import type { TokenVerifier } from '../engine/tokens.ts';
import { SUCCESS } from './envelope.ts';

/** The API's routes: Fastify typed by TypeBox, so a route's body, params and answer types come from its schemas. */
export type Api = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

/** What a method answers: `data`, and keys Altcraft puts beside it (profile_id, total_count, ...). */
interface Answer<D extends TSchema, X extends TProperties> {
  data: Static<D>;
  extra?: Static<TObject<X>>;
}

/** Route hooks beyond the token check: the deduplication of the methods that launch. */
export interface RouteHooks {
  preValidation: preValidationHookHandler[];
  onSend: onSendHookHandler[];
}

export interface MethodSpec<B extends TObject, D extends TSchema, X extends TProperties> {
  summary: string;
  description?: string;
  body: B;
  /**
   * The answer's `data`; `extra`, the keys beside it. They type the handler's answer, serialize it and document
   * it; objects are open (additionalProperties), so a key they do not name is still sent, never dropped.
   */
  data: D;
  extra?: X;
  /** Errors beyond those every method may answer (400, 401, 403, 413, 500, 503). */
  errors?: (404 | 409)[];
  bodyLimit?: number;
  /** Which roles may call it (core/roles.ts); by default what its path says (get and list read, start launches, ...). */
  access?: Access;
  hooks?: RouteHooks;
  handler: (body: Static<B>, req: FastifyRequest, reply: FastifyReply) => Promise<Answer<D, X>>;
}

const TOKEN = Type.String({ maxLength: 256, description: 'API token (or send it as Authorization: Bearer <token>)' });

/** The envelope of every error: `error` is the HTTP status; `error_text` says what is wrong. Shared as a component. */
export const ERROR_ENVELOPE = Type.Object(
  {
    error: Type.Integer({ description: 'The error code, equal to the HTTP status' }),
    error_text: Type.String({ description: 'What is wrong, naming the field when a field is' }),
    data: Type.Null(),
  },
  { $id: 'ErrorEnvelope', description: "Altcraft's envelope of an error" },
);

const ERRORS: Record<number, string> = {
  400: 'The request is refused: a field is missing, of the wrong type or out of range, or the body is not JSON',
  401: 'No API token (send token in the body, Authorization: Bearer or ?token=)',
  403: 'The API token is not valid',
  404: 'What the request names does not exist',
  409: 'A conflict: several profiles match, or a request with this Request-ID is still running',
  413: 'The body, an attachment or the content is over its limit',
  500: 'An internal error; the server log has the details',
  503: 'The store is unavailable; retry after Retry-After seconds',
};

/** The envelope of a success: error 0, and `data` (with any keys beside it) as the method declares. */
const successEnvelope = (data: TSchema, extra: TProperties) =>
  Type.Object(
    {
      error: Type.Integer({ description: '0: success' }),
      error_text: Type.String({ description: `'${SUCCESS}'` }),
      data,
      ...extra,
    },
    { additionalProperties: true, description: 'Success' },
  );

/** The responses of a method: its answer and the errors it may give (the error envelope is a shared schema, by $ref). */
function responses(data: TSchema, extra: TProperties, more: number[] = [], tokenNeeded = true) {
  const out: Record<string, TSchema | { $ref: string; description: string }> = { 200: successEnvelope(data, extra) };
  const codes = [400, ...(tokenNeeded ? [401] : []), 403, ...more, 413, 500, 503];
  for (const code of codes) out[code] = { $ref: 'ErrorEnvelope#', description: ERRORS[code] };
  return out;
}

/** A token that is not a string (a number, an object, `?token=` given twice) is a wrong token: 403. */
function tokenValue(v: unknown, where: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw forbidden(`API token is not valid (${where} must be one string)`);
  return v;
}

/**
 * The token of a request: `token` in the JSON body, else `Authorization: Bearer <token>`, else `?token=` in
 * the query string (Altcraft deprecates that form and still accepts it; the access log redacts it, src/log.ts).
 */
export function presentedToken(req: FastifyRequest): string | null {
  const body = req.body as Record<string, unknown> | undefined;
  const inBody = body && typeof body === 'object' && !Array.isArray(body) ? tokenValue(body.token, "field 'token'") : null;
  if (inBody !== null) return inBody;
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+\S+$/i.test(auth)) return auth.replace(/^Bearer\s+/i, '');
  return tokenValue((req.query as { token?: unknown } | undefined)?.token, "'token' in the query string");
}

/**
 * The token check of the API scope: a token, a valid one, and one whose role may call the method. The
 * role check is here, beside the token's, so that every method has it; the method's access class is
 * in its route config (`method()` puts it there).
 */
export function requireToken(verifier: TokenVerifier) {
  return async (req: FastifyRequest) => {
    const token = presentedToken(req);
    if (token === null) throw unauthorized('API token required');
    const found = await verifier.verify(token);
    if (found === null) throw forbidden('API token is not valid');
    req.tokenName = found.name;
    req.tokenRole = found.role;
    const access = req.routeOptions.config.access;
    if (access !== undefined && !mayCall(found.role, access)) throw forbidden(roleRefusal(found.role, req.routeOptions.config.apiMethod ?? req.url));
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    tokenName?: string;
    tokenRole?: Role;
  }
  interface FastifyContextConfig {
    /** The method's access class (core/roles.ts), checked against the token's role. */
    access?: Access;
    /** The method's name, `messages/retry`, for the 403 text. */
    apiMethod?: string;
  }
}

/**
 * The responses of an API v1.0 link: the launch answers data null; the link may name no campaign or profile.
 * The key in the link is the credential, so no 401; a token sent as well and not valid is a 403.
 */
export const linkResponses = () => keylessResponses(Type.Null({ description: 'null; the launch id is in the Launch-Id header' }));

/** The responses of a route whose credential is no API token (a link's key, a resource_token): no 401. */
export const keylessResponses = (data: TSchema) => responses(data, {}, [404, 409], false);

/** The operationId of a method: its path, `campaigns/triggers/start` -> `campaigns_triggers_start`. */
const operationId = (path: string) => path.replace(/^\//, '').replace(/\//g, '_');

/**
 * Declares `POST <prefix><path>`: its body schema with the token beside it, its answer's schema, and
 * a handler that gets the validated body and answers `data` (and keys beside it) in the envelope.
 */
export function method<B extends TObject, D extends TSchema, X extends TProperties = Record<never, never>>(app: Api, path: string, tag: string, spec: MethodSpec<B, D, X>): void {
  // A strict body (the filters of a list method) stays strict with the token beside it.
  const strict = (spec.body as { additionalProperties?: unknown }).additionalProperties === false ? { additionalProperties: false } : {};
  const body = Type.Object({ token: Type.Optional(TOKEN), ...spec.body.properties }, strict);
  app.post(path, {
    bodyLimit: spec.bodyLimit,
    config: { access: spec.access ?? accessOfPath(path), apiMethod: path.replace(/^\//, '') },
    ...spec.hooks,
    schema: {
      tags: [tag],
      operationId: operationId(path),
      summary: spec.summary,
      description: spec.description,
      body,
      response: responses(spec.data, spec.extra ?? {}, spec.errors),
    },
    handler: async (req, reply) => {
      // The body is the method's schema with `token` beside it: validated above, so of the schema's type.
      const answer = await spec.handler(req.body as Static<B>, req, reply);
      return { error: 0, error_text: SUCCESS, data: answer.data ?? null, ...answer.extra };
    },
  });
}
