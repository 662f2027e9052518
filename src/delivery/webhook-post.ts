/**
 * One signed POST to a webhook endpoint (Standard Webhooks headers), bounded in time, never following
 * redirects. With denyPrivate (the egress policy, delivery/egress.ts), the address the connection
 * actually goes to is checked (the lookup is the one the socket uses, so a name that resolves
 * differently the second time cannot slip through).
 * Written on node:http rather than fetch, whose resolver cannot be hooked without undici's own Agent.
 */
import http from 'node:http';
import https from 'node:https';
import { signature } from '../core/webhooks.ts';
import { guardedLookup, literalRefusal } from './egress.ts';

export interface PostOptions {
  timeoutMs: number;
  /** SALVO_EGRESS_DENY_PRIVATE. */
  denyPrivate: boolean;
}

export interface PostResult {
  statusCode: number | null;
  error: string | null;
}

const agents = { 'http:': new http.Agent({ keepAlive: true }), 'https:': new https.Agent({ keepAlive: true }) };

/** Posts `body` signed as event `id` at `timestamp` (Unix seconds). A 2xx answer within the deadline is success. */
export function postWebhook(url: string, secret: string, id: string, timestamp: number, body: string, o: PostOptions): Promise<PostResult> {
  if (o.denyPrivate) {
    const refused = literalRefusal(new URL(url).hostname);
    if (refused) return Promise.resolve({ statusCode: null, error: refused.message });
  }
  const u = new URL(url);
  const headers = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'user-agent': 'Salvo-Webhooks',
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': signature(secret, id, timestamp, body),
  };
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: PostResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const client = u.protocol === 'https:' ? https : http;
    const req = client.request(u, { method: 'POST', headers, agent: agents[u.protocol as 'http:' | 'https:'], lookup: o.denyPrivate ? guardedLookup : undefined }, (res) => {
      // The answer's body is read (and dropped, up to a point) so the connection can be reused.
      let seen = 0;
      res.on('data', (chunk: Buffer) => {
        seen += chunk.length;
        if (seen > 64 * 1024) res.destroy();
      });
      res.on('end', () => done(okStatus(res.statusCode ?? 0)));
      res.on('error', () => done(okStatus(res.statusCode ?? 0)));
      res.on('close', () => done(okStatus(res.statusCode ?? 0)));
    });
    const timer = setTimeout(() => {
      req.destroy();
      done({ statusCode: null, error: `no answer within ${o.timeoutMs} ms` });
    }, o.timeoutMs);
    req.on('error', (e: NodeJS.ErrnoException) => done({ statusCode: null, error: `${e.code ? e.code + ': ' : ''}${e.message}`.slice(0, 500) }));
    req.end(body);
  });
}

const okStatus = (code: number): PostResult => ({ statusCode: code, error: code >= 200 && code < 300 ? null : `HTTP ${code}` });
