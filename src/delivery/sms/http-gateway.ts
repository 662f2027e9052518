/**
 * The generic HTTP SMS gateway: one request per message to a URL of the user's provider, with
 * `{to}`, `{sender}` and `{text}` filled in: URL-encoded in the URL, JSON-escaped in a JSON body (the
 * Content-Type says JSON, or none is given and the body starts with `{` or `[`), URL-encoded in a form
 * body, as they are elsewhere (header values lose line breaks). A 2xx answer means sent (its status and a
 * short excerpt go into the history, core/peer-answer.ts); 408, 429 and 5xx are retried, after Retry-After
 * when given; any other status is final. The requests go out on delivery/http-client.ts: keep-alive
 * connections, and the egress policy on each (node:http rather than fetch, whose resolver cannot be
 * hooked without undici's own Agent).
 */
import { answerExcerpt } from '../../core/peer-answer.ts';
import { parseRetryAfter } from '../../core/retry.ts';
import type { HttpSmsSettings } from '../../core/types.ts';
import type { SendResult } from '../channels.ts';
import type { HttpAnswer, HttpClient } from '../http-client.ts';
import { ProviderError } from '../provider-error.ts';

export interface SmsFields {
  to: string;
  sender: string;
  text: string;
}

const DEFAULT_BODY = '{"to": "{to}", "sender": "{sender}", "text": "{text}"}';

const fill = (template: string, f: SmsFields, encode: (v: string) => string) => template.replace(/\{(to|sender|text)\}/g, (_, k: keyof SmsFields) => encode(f[k]));
const jsonEscape = (v: string) => JSON.stringify(v).slice(1, -1);
const formEscape = (v: string) => encodeURIComponent(v).replace(/%20/g, '+');

/** The request a message makes. */
function gatewayRequest(s: HttpSmsSettings, f: SmsFields): { url: string; method: string; headers: Record<string, string>; body?: string } {
  const method = s.method ?? 'POST';
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.headers ?? {})) headers[k] = fill(v, f, (x) => x.replace(/[\r\n\0]+/g, ' '));
  const url = fill(s.url, f, encodeURIComponent);
  if (method === 'GET') return { url, method, headers };
  const template = s.body ?? DEFAULT_BODY;
  const typeKey = Object.keys(headers).find((k) => k.toLowerCase() === 'content-type');
  let type = typeKey ? headers[typeKey].toLowerCase() : '';
  if (!typeKey) {
    type = /^\s*[[{]/.test(template) ? 'application/json' : 'text/plain; charset=utf-8';
    headers['content-type'] = type;
  }
  const escapeValue = type.includes('json') ? jsonEscape : type.includes('x-www-form-urlencoded') ? formEscape : (x: string) => x;
  return { url, method, headers, body: fill(template, f, escapeValue) };
}

export async function sendHttpSms(client: HttpClient, s: HttpSmsSettings, f: SmsFields): Promise<SendResult> {
  const req = gatewayRequest(s, f);
  const url = new URL(req.url);
  const timeoutS = s.timeout_seconds ?? 15;
  let res: HttpAnswer;
  try {
    res = await client.request(url, { method: req.method, headers: req.headers, body: req.body }, `the SMS gateway ${url.host}`, timeoutS * 1000);
  } catch (e) {
    if (e instanceof ProviderError && e.permanent) throw e;
    const err = e as ProviderError;
    const code = err.code === 'TIMEOUT' ? 'HTTP_TIMEOUT' : (err.code ?? 'HTTP_ERROR');
    throw new ProviderError(`the SMS gateway ${url.host} did not answer (${err.code === 'TIMEOUT' ? `no answer in ${timeoutS} s` : err.message.replace(/^.* did not answer: /, '')})`, { code });
  }
  // Only the status and a short excerpt are kept (core/peer-answer.ts): the answer goes into messages/get.
  const answer = answerExcerpt(res.body, String(res.headers['content-type'] ?? ''));
  const said = `HTTP ${res.status}${answer ? `: ${answer}` : ''}`;
  if (res.status >= 200 && res.status < 300) return { detail: `SMS gateway ${url.host} answered ${said}` };
  const code = `HTTP_${res.status}`;
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    throw new ProviderError(`the SMS gateway ${url.host} answered ${said}`, { code, retryAfterMs: parseRetryAfter(res.headers['retry-after'], Date.now()) });
  }
  throw new ProviderError(`the SMS gateway ${url.host} refused the message: ${said}`, { code, permanent: true });
}
