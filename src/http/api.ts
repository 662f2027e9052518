/**
 * Declaring an API method: `POST /api/v1.1/<family>/<verb>` with its body schema, behind the token
 * check, answering the envelope. The schema validates the request and documents it in OpenAPI.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, onSendHookHandler, preValidationHookHandler } from 'fastify';
import { unauthorized, forbidden } from '../core/errors.ts';
import type { TokenVerifier } from '../engine/tokens.ts';
import { SUCCESS } from './envelope.ts';

type Schema = Record<string, unknown>;

/** What a method answers: `data`, and keys Altcraft puts beside it (profile_id, total_count, ...). */
interface Answer {
  data?: unknown;
  extra?: Record<string, unknown>;
}

export interface MethodSpec<B> {
  summary: string;
  description?: string;
  body: Schema;
  bodyLimit?: number;
  /** Route hooks beyond the token check (deduplication of trigger calls). */
  hooks?: { preValidation: preValidationHookHandler[]; onSend: onSendHookHandler[] };
  handler: (body: B, req: FastifyRequest, reply: FastifyReply) => Promise<Answer>;
}

const TOKEN = { type: 'string', maxLength: 256, description: 'API token (or send it as Authorization: Bearer <token>)' };

const envelope = {
  type: 'object',
  description: "Altcraft's envelope; error 0 is success, otherwise the HTTP status equals error",
  properties: {
    error: { type: 'integer', description: '0, or the error code (400, 401, 403, 404, 409, 413, 500)' },
    error_text: { type: 'string', description: `'${SUCCESS}', or what is wrong` },
    data: { description: 'The answer; null on errors' },
  },
  additionalProperties: true,
};

/** A token that is not a string (a number, an object, `?token=` given twice) is a wrong token: 403. */
export function tokenValue(v: unknown, where: string): string | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v !== 'string') throw forbidden(`API token is not valid (${where} must be one string)`);
  return v;
}

/** The token of a request: `token` in the JSON body, else `Authorization: Bearer <token>`. */
export function presentedToken(req: FastifyRequest): string | null {
  const body = req.body as Record<string, unknown> | undefined;
  const inBody = body && typeof body === 'object' && !Array.isArray(body) ? tokenValue(body.token, "field 'token'") : null;
  if (inBody !== null) return inBody;
  const auth = req.headers.authorization;
  if (auth && /^Bearer\s+\S+$/i.test(auth)) return auth.replace(/^Bearer\s+/i, '');
  return null;
}

export function requireToken(verifier: TokenVerifier) {
  return async (req: FastifyRequest) => {
    const token = presentedToken(req);
    if (token === null) throw unauthorized('API token required');
    const name = await verifier.verify(token);
    if (name === null) throw forbidden('API token is not valid');
    req.tokenName = name;
  };
}

declare module 'fastify' {
  interface FastifyRequest {
    tokenName?: string;
  }
}

export function method<B>(app: FastifyInstance, path: string, tag: string, spec: MethodSpec<B>): void {
  const body = { ...spec.body, properties: { token: TOKEN, ...(spec.body.properties as Schema) } };
  app.post(path, {
    bodyLimit: spec.bodyLimit,
    ...spec.hooks,
    schema: { tags: [tag], summary: spec.summary, description: spec.description, body, response: { default: envelope } },
    handler: async (req, reply) => {
      const answer = await spec.handler(req.body as B, req, reply);
      return { error: 0, error_text: SUCCESS, data: answer.data ?? null, ...answer.extra };
    },
  });
}
