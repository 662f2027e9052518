/**
 * Altcraft's envelope, {error, error_text, data}, and the one place errors become responses. The HTTP
 * status mirrors `error` (200 for 0). Nothing internal (stack, SQL, library message) reaches a client.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ApiError, DuplicateRequest, StoreUnavailable, type ErrorCode } from '../core/errors.ts';

export const SUCCESS = 'Successful operation';

export function sendError(reply: FastifyReply, code: ErrorCode, text: string) {
  return reply.code(code).send({ error: code, error_text: text, data: null });
}

interface AjvError {
  instancePath: string;
  keyword: string;
  message?: string;
  params: Record<string, unknown>;
}

/** '/content/0/message_id' -> 'content[0].message_id' */
function fieldPath(pointer: string): string {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => (/^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/** One sentence naming the field and what is wrong with it. */
function validationText(errors: AjvError[]): string {
  const e = errors[0];
  const at = fieldPath(e.instancePath);
  const join = (p: string, name: unknown) => (p ? `${p}.${name}` : String(name));
  switch (e.keyword) {
    case 'required':
      return `field '${join(at, e.params.missingProperty)}' is required`;
    case 'additionalProperties':
      return `field '${join(at, e.params.additionalProperty)}' is not allowed here`;
    case 'type': {
      const types = String(e.params.type).split(',').join(' or ');
      return at ? `field '${at}' must be ${/^[aeiou]/.test(types) ? 'an' : 'a'} ${types}` : `request body must be a JSON ${types}`;
    }
    case 'enum':
      return `field '${at}' must be one of ${(e.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    default:
      return at ? `field '${at}' ${e.message}` : `request body ${e.message}`;
  }
}

const FASTIFY_CODES: Record<string, (e: FastifyError, req: FastifyRequest) => [ErrorCode, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: (_e, req) => [413, `request body is larger than the limit of ${req.routeOptions.bodyLimit ?? '?'} bytes`],
  FST_ERR_CTP_INVALID_JSON_BODY: () => [400, 'request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: () => [400, 'request body is empty; send a JSON object'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: () => [400, 'request body must be JSON (Content-Type: application/json)'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: () => [400, 'request body does not match its Content-Length'],
  FST_ERR_CTP_INVALID_CONTENT_TYPE: () => [400, 'request has an invalid Content-Type header'],
};

/** How an error is sent: the envelope here; quick import's plain text (routes/quick-import.ts). */
export type ErrorSender = (reply: FastifyReply, code: ErrorCode, text: string) => FastifyReply;

/** Turns anything a request throws into one status and text, sent by `send`. */
export function errorHandler(send: ErrorSender) {
  return (thrown: unknown, req: FastifyRequest, reply: FastifyReply) => {
    if (thrown instanceof ApiError) return send(reply, thrown.code, thrown.text);
    // Another request with the same key wrote first (http/dedup.ts): this one wrote nothing and gets that one's answer.
    if (thrown instanceof DuplicateRequest && req.dedupKey) return req.dedupKey.answerAsRepeat(reply);
    if (thrown instanceof StoreUnavailable) {
      // The call did not take effect (a PostgreSQL connection cut during COMMIT leaves that unknown), so the caller
      // may send it again; a Request-ID keeps such a repeat from running twice.
      req.log.warn({ err: thrown }, 'store unavailable; answered 503');
      reply.header('Retry-After', String(thrown.retryAfterSeconds));
      return send(reply, 503, thrown.message);
    }
    const err = thrown as FastifyError;
    if (err.validation) return send(reply, 400, validationText(err.validation as AjvError[]));
    const known = err.code ? FASTIFY_CODES[err.code] : undefined;
    if (known) return send(reply, ...known(err, req));
    if (err instanceof SyntaxError || (err.statusCode === 400 && /JSON|__proto__|constructor/i.test(err.message))) {
      return send(reply, 400, 'request body is not valid JSON');
    }
    if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) {
      return send(reply, 400, `bad request (${err.code ?? err.statusCode})`);
    }
    req.log.error({ err }, 'request failed');
    return send(reply, 500, 'internal error; the server log has the details');
  };
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler(errorHandler(sendError));
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, `no such method: ${req.method} ${req.url.split('?')[0]}`));
}
