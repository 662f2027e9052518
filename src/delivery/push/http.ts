/**
 * HTTP/1.1 for Web Push services and FCM: keep-alive connections per origin (a push burst reuses
 * them rather than paying a TLS handshake per message), a deadline on the whole exchange, and a
 * bounded answer. Failures become ProviderErrors the dispatcher knows how to retry.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { parseRetryAfter } from '../../core/retry.ts';
import { ProviderError } from '../provider-error.ts';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

interface RequestInit {
  method: 'POST';
  headers: Record<string, string | number>;
  body?: Buffer | string;
}

/** Provider answers are short JSON or text; more than this is cut (the status is what counts). */
const MAX_ANSWER_BYTES = 64 * 1024;

export class HttpClient {
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };

  constructor(
    private readonly timeoutMs: number,
    sockets = 64,
  ) {
    const o = { keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' as const };
    this.agents = { 'http:': new http.Agent(o), 'https:': new https.Agent(o) };
  }

  /** Answers any status; rejects (transient ProviderError) only when no answer came: refused, reset, too slow. */
  request(url: URL, init: RequestInit, what: string): Promise<HttpAnswer> {
    const protocol = url.protocol as 'http:' | 'https:';
    const lib = protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const req = lib.request(url, { method: init.method, headers: init.headers, agent: this.agents[protocol] }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_ANSWER_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_ANSWER_BYTES).toString('utf8') });
        });
        res.on('error', fail);
      });
      function fail(e: Error & { code?: string }) {
        clearTimeout(timer);
        reject(e instanceof ProviderError ? e : new ProviderError(`${what} did not answer: ${e.message}`, { code: e.code ?? 'NETWORK' }));
      }
      const timer = setTimeout(() => req.destroy(new ProviderError(`${what} did not answer within ${this.timeoutMs} ms`, { code: 'TIMEOUT' })), this.timeoutMs);
      req.on('error', fail);
      req.end(init.body);
    });
  }

  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}

/** An answer's JSON object, or {} when it is not one (a 2xx with a body we cannot read is still a success). */
export function jsonOf(body: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(body);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** The first 200 characters of an answer's body, on one line, for the message history. */
export const snippet = (body: string) => body.replace(/\s+/g, ' ').trim().slice(0, 200);

/**
 * What an HTTP refusal means for a push: 429 and 5xx pass (Retry-After honoured); 404 and 410 from a
 * Web Push service mean the subscription is gone (RFC 8030 §7.3); other 4xx are final.
 */
export function httpFailure(a: HttpAnswer, text: string, o: { goneMeansInvalid: boolean; code?: string }, now = Date.now()): ProviderError {
  const code = o.code ?? `HTTP_${a.status}`;
  if (a.status === 429 || a.status >= 500) return new ProviderError(text, { code, retryAfterMs: parseRetryAfter(a.headers['retry-after'], now) });
  const gone = o.goneMeansInvalid && (a.status === 404 || a.status === 410);
  return new ProviderError(text, { code, permanent: true, subscriptionInvalid: gone });
}
