/**
 * HTTP/1.1 to providers (SMS gateways, Web Push services, FCM, OAuth token endpoints): keep-alive
 * connections per origin (a burst reuses them rather than paying a TLS handshake per message), a
 * deadline on the whole exchange, a bounded answer, and the egress policy (delivery/egress.ts) on
 * every connection when it is on. Failures become ProviderErrors the dispatcher knows how to retry;
 * a connection the policy refuses is a permanent one.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { EgressDenied, guardedLookup, literalRefusal } from './egress.ts';
import { ProviderError } from './provider-error.ts';

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface HttpRequest {
  method: string;
  headers: Record<string, string | number>;
  body?: Buffer | string;
}

/** Provider answers are short JSON or text; more than this is cut (the status is what counts). */
const MAX_ANSWER_BYTES = 64 * 1024;

/** A connection the egress policy refused, as the send's failure: permanent, no retry can help. */
export const egressFailure = (what: string, e: Error) => new ProviderError(`${what} was not contacted: ${e.message}`, { code: 'EGRESS_DENIED', permanent: true });

export class HttpClient {
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };

  constructor(
    private readonly timeoutMs: number,
    private readonly o: { denyPrivate: boolean; sockets?: number },
  ) {
    const sockets = o.sockets ?? 64;
    const options = { keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets, scheduling: 'lifo' as const };
    this.agents = { 'http:': new http.Agent(options), 'https:': new https.Agent(options) };
  }

  /** Answers any status; rejects (a ProviderError) only when no answer came: refused, reset, too slow, or not allowed. */
  request(url: URL, init: HttpRequest, what: string, timeoutMs = this.timeoutMs): Promise<HttpAnswer> {
    const protocol = url.protocol as 'http:' | 'https:';
    const lib = protocol === 'https:' ? https : http;
    if (this.o.denyPrivate) {
      const refused = literalRefusal(url.hostname);
      if (refused) return Promise.reject(egressFailure(what, refused));
    }
    const headers = init.body !== undefined && !Object.keys(init.headers).some((k) => k.toLowerCase() === 'content-length') ? { ...init.headers, 'content-length': Buffer.byteLength(init.body) } : init.headers;
    return new Promise((resolve, reject) => {
      const lookup = this.o.denyPrivate ? guardedLookup : undefined;
      const req = lib.request(url, { method: init.method, headers, agent: this.agents[protocol], lookup }, (res) => {
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
        if (e instanceof EgressDenied) reject(egressFailure(what, e));
        else reject(e instanceof ProviderError ? e : new ProviderError(`${what} did not answer: ${e.message}`, { code: e.code ?? 'NETWORK' }));
      }
      const timer = setTimeout(() => req.destroy(new ProviderError(`${what} did not answer within ${timeoutMs} ms`, { code: 'TIMEOUT' })), timeoutMs);
      req.on('error', fail);
      req.end(init.body);
    });
  }

  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}
