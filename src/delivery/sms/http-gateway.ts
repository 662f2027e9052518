/**
 * The generic HTTP SMS gateway: one request per message to a URL of the user's provider, with
 * `{to}`, `{sender}` and `{text}` filled in: URL-encoded in the URL, JSON-escaped in a JSON body (the
 * Content-Type says JSON, or none is given and the body starts with `{` or `[`), URL-encoded in a form
 * body, as they are elsewhere (header values lose line breaks). A 2xx answer means sent (its first
 * bytes go into the history); 408, 429 and 5xx are retried, after Retry-After when given; any other
 * status is final. Global fetch (undici) keeps connections alive between messages.
 */
import { parseRetryAfter } from '../../core/retry.ts';
import { ProviderError } from '../provider-error.ts';
import type { HttpSmsSettings } from '../../core/types.ts';
import type { SendResult } from '../channels.ts';

export interface SmsFields {
  to: string;
  sender: string;
  text: string;
}

const DEFAULT_BODY = '{"to": "{to}", "sender": "{sender}", "text": "{text}"}';
const SNIPPET = 300;

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

/** The first bytes of an answer, without reading the rest. */
async function snippet(res: Response): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < SNIPPET) {
      const { value, done } = await reader.read();
      if (done) break;
      chunks.push(value);
      size += value.length;
    }
  } finally {
    reader.cancel().catch(() => {});
  }
  return Buffer.concat(chunks).toString('utf8').slice(0, SNIPPET).replace(/\s+/g, ' ').trim();
}

export async function sendHttpSms(s: HttpSmsSettings, f: SmsFields): Promise<SendResult> {
  const req = gatewayRequest(s, f);
  const host = new URL(req.url).host;
  let res: Response;
  try {
    res = await fetch(req.url, { method: req.method, headers: req.headers, body: req.body, redirect: 'manual', signal: AbortSignal.timeout((s.timeout_seconds ?? 15) * 1000) });
  } catch (e) {
    const err = e as Error & { cause?: { code?: string } };
    const code = err.name === 'TimeoutError' ? 'HTTP_TIMEOUT' : (err.cause?.code ?? 'HTTP_ERROR');
    throw new ProviderError(`the SMS gateway ${host} did not answer (${err.name === 'TimeoutError' ? `no answer in ${s.timeout_seconds ?? 15} s` : (err.cause?.code ?? err.message)})`, { code });
  }
  const answer = await snippet(res).catch(() => '');
  const said = `HTTP ${res.status}${answer ? `: ${answer}` : ''}`;
  if (res.status >= 200 && res.status < 300) return { detail: `SMS gateway ${host} answered ${said}` };
  const code = `HTTP_${res.status}`;
  if (res.status === 408 || res.status === 429 || res.status >= 500) {
    throw new ProviderError(`the SMS gateway ${host} answered ${said}`, { code, retryAfterMs: parseRetryAfter(res.headers.get('retry-after') ?? undefined, Date.now()) });
  }
  throw new ProviderError(`the SMS gateway ${host} refused the message: ${said}`, { code, permanent: true });
}
