/**
 * Real push peers for the tests, on 127.0.0.1: a Web Push service that decrypts each payload with the
 * browser's private key (http_ece, RFC 8291) and checks the VAPID token (RFC 8292); an OAuth token
 * endpoint and FCM HTTP v1 endpoint that check the service account's JWT and the bearer token; an
 * APNs endpoint over HTTP/2 (h2c) that checks the ES256 provider token and the headers.
 */
import { createECDH, generateKeyPairSync, randomBytes, type ECDH } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import ece from 'http_ece';
import { importJWK, importSPKI, jwtVerify, decodeProtectedHeader, type JWTPayload } from 'jose';

/** What a peer answers next for one address: a status (and headers, body), or a fault. */
type Script = { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'drop';

/** A browser's push subscription: its keys (the private half stays here) and how to read what it gets. */
interface Browser {
  endpoint: string;
  keys: { p256dh: string; auth: string };
  ecdh: ECDH;
  auth: Buffer;
}

interface WebPushDelivery {
  id: string;
  payload: Record<string, unknown>;
  ttl: string | undefined;
  urgency: string | undefined;
  claims: JWTPayload;
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Keeps sockets so that close() does not wait for kept-alive or hanging connections. */
function tracked(server: http.Server | http2.Http2Server) {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  return () =>
    new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    });
}

async function listen(server: http.Server | http2.Http2Server): Promise<string> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Answers `res` as the script says; true when it answered (a fault answers nothing). */
function play(step: Script | undefined, res: ServerResponse, fallback: { status: number; body?: string; headers?: Record<string, string> }): boolean {
  if (step === 'hang') return false;
  if (step === 'drop') {
    res.socket?.destroy();
    return false;
  }
  const s = step ?? fallback;
  res.writeHead(s.status, s.headers ?? {});
  res.end(s.body ?? '');
  return s.status >= 200 && s.status < 300;
}

export interface PushService {
  url: string;
  /** Payloads decrypted and accepted (2xx), in order. */
  delivered: WebPushDelivery[];
  /** Requests seen per subscription id (accepted or not). */
  requests: Map<string, number>;
  /** Next answers per subscription id; empty means 201. */
  script: Map<string, Script[]>;
  /** Problems found in requests (bad VAPID token, undecryptable payload): a test asserts it stays empty. */
  problems: string[];
  browser(id: string): Browser;
  close(): Promise<void>;
}

/** The Web Push service. `vapidPublicKey` and `subject` are what the VAPID token must carry. */
export async function startPushService(vapidPublicKey: string, subject: string): Promise<PushService> {
  const browsers = new Map<string, Browser>();
  const service: Omit<PushService, 'url' | 'close' | 'browser'> = { delivered: [], requests: new Map(), script: new Map(), problems: [] };
  const server = http.createServer(async (req, res) => {
    const id = decodeURIComponent((req.url ?? '').replace(/^\/push\//, ''));
    service.requests.set(id, (service.requests.get(id) ?? 0) + 1);
    const body = await readBody(req);
    const step = service.script.get(id)?.shift();
    const browser = browsers.get(id);
    let delivery: WebPushDelivery | null = null;
    try {
      if (!browser) throw new Error(`no subscription ${id}`);
      const m = /^vapid t=([^,]+), k=(.+)$/.exec(req.headers.authorization ?? '');
      if (!m) throw new Error(`Authorization is not "vapid t=..., k=...": ${req.headers.authorization}`);
      if (m[2] !== vapidPublicKey) throw new Error('k is not the application server key');
      const raw = Buffer.from(m[2], 'base64url');
      const key = await importJWK({ kty: 'EC', crv: 'P-256', x: raw.subarray(1, 33).toString('base64url'), y: raw.subarray(33).toString('base64url') }, 'ES256');
      const { payload: claims } = await jwtVerify(m[1], key, { audience: url, subject, algorithms: ['ES256'] });
      if (!claims.exp || claims.exp > Date.now() / 1000 + 24 * 3600) throw new Error('VAPID exp is missing or more than 24 h ahead');
      if (req.headers['content-encoding'] !== 'aes128gcm') throw new Error(`Content-Encoding ${req.headers['content-encoding']}`);
      const plain = ece.decrypt(body, { version: 'aes128gcm', privateKey: browser.ecdh, authSecret: browser.auth.toString('base64url') });
      delivery = { id, payload: JSON.parse(plain.toString('utf8')), ttl: req.headers.ttl as string | undefined, urgency: req.headers.urgency as string | undefined, claims };
    } catch (e) {
      service.problems.push(`${id}: ${(e as Error).message}`);
      res.writeHead(400).end((e as Error).message);
      return;
    }
    if (play(step, res, { status: 201, headers: { location: `${url}/message/${service.delivered.length}` } })) service.delivered.push(delivery);
  });
  const close = tracked(server);
  const url = await listen(server);
  return {
    ...service,
    url,
    browser(id) {
      const ecdh = createECDH('prime256v1');
      ecdh.generateKeys();
      const auth = randomBytes(16);
      const b = { endpoint: `${url}/push/${encodeURIComponent(id)}`, keys: { p256dh: ecdh.getPublicKey().toString('base64url'), auth: auth.toString('base64url') }, ecdh, auth };
      browsers.set(id, b);
      return b;
    },
    close,
  };
}

export interface FcmPeer {
  url: string;
  serviceAccount: Record<string, string>;
  /** Token exchanges done, and the tokens issued. */
  exchanges: number;
  /** Messages accepted, as posted. */
  delivered: { token: string; notification: { title: string; body: string }; data: Record<string, string>; android?: unknown }[];
  script: Map<string, Script[]>;
  problems: string[];
  /** Makes the current access token unknown, as if revoked: the next send meets a 401. */
  revoke(): void;
  close(): Promise<void>;
}

/** The OAuth token endpoint (/token) and the FCM HTTP v1 endpoint (/v1/projects/<id>/messages:send). */
export async function startFcm(projectId = 'shop-app'): Promise<FcmPeer> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const spki = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const valid = new Set<string>();
  const peer = { exchanges: 0, delivered: [] as FcmPeer['delivered'], script: new Map<string, Script[]>(), problems: [] as string[] };
  let url = '';
  const sa = () => serviceAccount;
  const server = http.createServer(async (req, res) => {
    const body = (await readBody(req)).toString('utf8');
    try {
      if (req.url === '/token') {
        const form = new URLSearchParams(body);
        if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') throw new Error(`grant_type ${form.get('grant_type')}`);
        const assertion = form.get('assertion') ?? '';
        if (decodeProtectedHeader(assertion).kid !== sa().private_key_id) throw new Error('the assertion has not the key id');
        const { payload } = await jwtVerify(assertion, await importSPKI(spki, 'RS256'), { issuer: sa().client_email, audience: `${url}/token`, algorithms: ['RS256'] });
        if (payload.scope !== 'https://www.googleapis.com/auth/firebase.messaging') throw new Error(`scope ${payload.scope}`);
        if (!payload.iat || !payload.exp || payload.exp - payload.iat > 3600) throw new Error('the assertion lives more than an hour');
        const token = `ya29.test-${++peer.exchanges}`;
        valid.add(token);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: 3599, token_type: 'Bearer' }));
        return;
      }
      if (req.url !== `/v1/projects/${projectId}/messages:send`) throw new Error(`path ${req.url}`);
      const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (!bearer || !valid.has(bearer)) {
        res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 401, status: 'UNAUTHENTICATED' } }));
        return;
      }
      const { message } = JSON.parse(body);
      if (typeof message?.token !== 'string' || typeof message.notification?.title !== 'string' || typeof message.notification?.body !== 'string') throw new Error(`shape ${body}`);
      if (Object.values(message.data ?? {}).some((v) => typeof v !== 'string')) throw new Error('data values must be strings');
      const step = peer.script.get(message.token)?.shift();
      if (play(step, res, { status: 200, body: JSON.stringify({ name: `projects/${projectId}/messages/${peer.delivered.length + 1}` }) })) peer.delivered.push(message);
    } catch (e) {
      peer.problems.push((e as Error).message);
      res.writeHead(400).end((e as Error).message);
    }
  });
  const close = tracked(server);
  url = await listen(server);
  const serviceAccount = {
    type: 'service_account',
    project_id: projectId,
    private_key_id: 'key-1',
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    client_email: `salvo@${projectId}.iam.gserviceaccount.com`,
    token_uri: `${url}/token`,
  };
  return Object.assign(peer, { url, serviceAccount, revoke: () => valid.clear(), close });
}

/** The body FCM answers for a token that is no longer registered. */
export const FCM_UNREGISTERED: Script = {
  status: 404,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: { code: 404, status: 'NOT_FOUND', details: [{ '@type': 'type.googleapis.com/google.firebase.fcm.v1.FcmError', errorCode: 'UNREGISTERED' }] } }),
};

export interface ApnsPeer {
  url: string;
  settings: { key_id: string; team_id: string; private_key: string; topic: string; endpoint: string };
  delivered: { token: string; payload: Record<string, unknown>; headers: Record<string, string> }[];
  /** Answers by device token: 410 Unregistered etc.; status 0 drops the connection, -1 never answers. */
  script: Map<string, { status: number; reason?: string }[]>;
  problems: string[];
  /** HTTP/2 sessions opened by clients. */
  sessions: number;
  /** Sends GOAWAY on every open session (the client must open another). */
  goaway(): void;
  close(): Promise<void>;
}

/** An APNs endpoint over HTTP/2 without TLS (h2c), as the `endpoint: http://...` setting reaches it. */
export async function startApns(topic = 'com.shop.app'): Promise<ApnsPeer> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ type: 'spki', format: 'pem' }) as string;
  const settings = { key_id: 'ABC123DEFG', team_id: 'TEAM123456', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string, topic, endpoint: '' };
  const peer = { delivered: [] as ApnsPeer['delivered'], script: new Map<string, { status: number; reason?: string }[]>(), problems: [] as string[], sessions: 0 };
  const server = http2.createServer();
  const open = new Set<http2.ServerHttp2Session>();
  server.on('session', (s) => {
    peer.sessions++;
    open.add(s);
    s.on('close', () => open.delete(s));
  });
  server.on('stream', async (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    await new Promise((r) => stream.on('end', r));
    const answer = (status: number, reason?: string, extra: Record<string, string> = {}) => {
      stream.respond({ ':status': status, ...extra });
      stream.end(reason ? JSON.stringify({ reason }) : undefined);
    };
    try {
      const token = /^\/3\/device\/([^/]+)$/.exec(String(headers[':path']))?.[1];
      if (headers[':method'] !== 'POST' || !token) throw new Error(`request ${headers[':method']} ${headers[':path']}`);
      const jwt = /^bearer (.+)$/.exec(String(headers.authorization))?.[1] ?? '';
      if (decodeProtectedHeader(jwt).kid !== settings.key_id) throw new Error('the provider token has not the key id');
      const { payload } = await jwtVerify(jwt, await importSPKI(spki, 'ES256'), { issuer: settings.team_id, algorithms: ['ES256'] });
      if (!payload.iat || payload.iat < Date.now() / 1000 - 3600) throw new Error('the provider token is older than an hour');
      for (const [h, want] of Object.entries({ 'apns-topic': topic, 'apns-push-type': 'alert', 'apns-priority': '10' })) {
        if (headers[h] !== want) throw new Error(`${h} is ${headers[h]}, not ${want}`);
      }
      if (!/^\d+$/.test(String(headers['apns-expiration'])) || Number(headers['apns-expiration']) <= Date.now() / 1000) throw new Error(`apns-expiration ${headers['apns-expiration']}`);
      const step = peer.script.get(token)?.shift();
      // Status 0: the connection drops mid-request; -1: no answer ever.
      if (step?.status === 0) return stream.session?.destroy();
      if (step?.status === -1) return;
      if (step) return answer(step.status, step.reason);
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      peer.delivered.push({ token: decodeURIComponent(token), payload: body, headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, String(v)])) });
      answer(200, undefined, { 'apns-id': `0000-${peer.delivered.length}` });
    } catch (e) {
      peer.problems.push((e as Error).message);
      answer(403, 'InvalidProviderToken');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  settings.endpoint = url;
  return Object.assign(peer, {
    url,
    settings,
    goaway: () => {
      for (const s of open) s.goaway();
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  });
}
