/**
 * A resource's provider settings (the `sms` and `push` blocks, `email.dkim`; `limits` in core/send-limits.ts): checked on resources/add and
 * resources/update with a 400 naming the field, and completed at send time with the environment's
 * defaults (SALVO_SMPP_URL, SALVO_SMS_SENDER, SALVO_VAPID_*), which a resource's own settings override.
 */
import { createPrivateKey } from 'node:crypto';
import { badRequest } from './errors.ts';
import { decodeKey, decodeP256Point } from './push.ts';
import { checkSendLimits } from './send-limits.ts';
import type { ApnsSettings, DkimSettings, FcmSettings, HttpSmsSettings, PushSettings, Resource, SmppSettings, SmsSettings, WebPushSettings } from './types.ts';

type Input = Record<string, unknown>;

function objectAt(v: unknown, at: string): Input {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw badRequest(`${at} must be an object`);
  return v as Input;
}

function stringAt(v: unknown, at: string, max = 1000, required = true): string | undefined {
  if (v === undefined || v === null) {
    if (required) throw badRequest(`${at} is required`);
    return undefined;
  }
  if (typeof v !== 'string') throw badRequest(`${at} must be a string`);
  if (required && v.trim() === '') throw badRequest(`${at} must not be empty`);
  if (v.length > max) throw badRequest(`${at} is longer than ${max} characters`);
  return v;
}

function intAt(v: unknown, at: string, min: number, max: number): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badRequest(`${at} must be a whole number from ${min} to ${max}`);
  return v;
}

function boolAt(v: unknown, at: string): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${at} must be true or false`);
  return v;
}

function urlAt(v: unknown, at: string, schemes: string[]): string {
  const raw = stringAt(v, at, 2048)!;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw badRequest(`${at} is not a URL (expected ${schemes.map((s) => s + '//').join(' or ')}...)`);
  }
  if (!schemes.includes(u.protocol)) throw badRequest(`${at} must start with ${schemes.map((s) => s + '//').join(' or ')}, not ${u.protocol}//`);
  if (!u.hostname) throw badRequest(`${at} has no host`);
  return raw;
}

function unknownKeys(o: Input, known: string[], at: string): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) throw badRequest(`${at}.${k} is not a setting (expected ${known.join(', ')})`);
}

/** What an SMPP URL carries: where to connect and how to bind. */
export interface SmppEndpoint {
  host: string;
  port: number;
  tls: boolean;
  system_id: string;
  password: string;
}

export function smppEndpoint(s: SmppSettings): SmppEndpoint {
  const u = new URL(s.url);
  const tls = s.tls === true || u.protocol === 'smpps:';
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : tls ? 3550 : 2775,
    tls,
    system_id: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

export function checkSmpp(v: unknown, at = 'sms.smpp'): SmppSettings {
  const o = objectAt(v, at);
  unknownKeys(o, ['url', 'tls', 'window', 'system_type', 'enquire_link_seconds'], at);
  const url = urlAt(o.url, `${at}.url`, ['smpp:', 'smpps:']);
  const e = smppEndpoint({ url });
  if (!e.system_id) throw badRequest(`${at}.url must carry the system_id: smpp://system_id:password@host:port`);
  // SMPP 3.4 caps system_id at 15 octets and password at 8 (both C-octet strings).
  if (e.system_id.length > 15) throw badRequest(`${at}.url: system_id is longer than 15 characters`);
  if (e.password.length > 8) throw badRequest(`${at}.url: the password is longer than 8 characters (SMPP 3.4)`);
  const out: SmppSettings = { url };
  const tls = boolAt(o.tls, `${at}.tls`);
  if (tls !== undefined) out.tls = tls;
  const window = intAt(o.window, `${at}.window`, 1, 1000);
  if (window !== undefined) out.window = window;
  const systemType = stringAt(o.system_type, `${at}.system_type`, 12, false);
  if (systemType) out.system_type = systemType;
  const enquire = intAt(o.enquire_link_seconds, `${at}.enquire_link_seconds`, 1, 3600);
  if (enquire !== undefined) out.enquire_link_seconds = enquire;
  return out;
}

const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH'] as const;

function checkHttpSms(v: unknown, at = 'sms.http'): HttpSmsSettings {
  const o = objectAt(v, at);
  unknownKeys(o, ['url', 'method', 'headers', 'body', 'timeout_seconds'], at);
  // The URL is checked with sample values filled in: {to} and friends are not valid in every position.
  const url = stringAt(o.url, `${at}.url`, 2048)!;
  urlAt(url.replace(/\{(to|sender|text)\}/g, 'x'), `${at}.url`, ['http:', 'https:']);
  const out: HttpSmsSettings = { url };
  if (o.method !== undefined) {
    const m = String(o.method).toUpperCase();
    if (!(HTTP_METHODS as readonly string[]).includes(m)) throw badRequest(`${at}.method must be one of ${HTTP_METHODS.join(', ')}`);
    out.method = m as HttpSmsSettings['method'];
  }
  if (o.headers !== undefined) {
    const h = objectAt(o.headers, `${at}.headers`);
    const entries = Object.entries(h);
    if (entries.length > 50) throw badRequest(`${at}.headers has more than 50 headers`);
    out.headers = {};
    for (const [name, value] of entries) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw badRequest(`${at}.headers: '${name.slice(0, 64)}' is not a header name`);
      const text = stringAt(value, `${at}.headers.${name}`, 8192, false) ?? '';
      if (/[\r\n\0]/.test(text)) throw badRequest(`${at}.headers.${name} must not contain line breaks`);
      out.headers[name] = text;
    }
  }
  const body = stringAt(o.body, `${at}.body`, 65_536, false);
  if (body !== undefined) out.body = body;
  const timeout = intAt(o.timeout_seconds, `${at}.timeout_seconds`, 1, 300);
  if (timeout !== undefined) out.timeout_seconds = timeout;
  return out;
}

/** A sender: alphanumeric up to 11 characters (TON 5), or a number of up to 15 digits with an optional + (TON 1). */
export function checkSender(v: unknown, at = 'sms.sender'): string | undefined {
  const s = stringAt(v, at, 64, false);
  if (s === undefined || s === '') return undefined;
  if (/^\+?\d{1,15}$/.test(s)) return s;
  if (!/^[\x20-\x7e]{1,11}$/.test(s)) throw badRequest(`${at} must be up to 11 ASCII letters, digits or spaces, or a phone number of up to 15 digits`);
  return s;
}

export function checkSmsSettings(v: unknown): SmsSettings {
  if (v === undefined || v === null) return {};
  const o = objectAt(v, 'sms');
  unknownKeys(o, ['sender', 'smpp', 'http', 'limits'], 'sms');
  if (o.smpp != null && o.http != null) throw badRequest('sms: give one provider, smpp or http, not both');
  const out: SmsSettings = {};
  const sender = checkSender(o.sender);
  if (sender) out.sender = sender;
  if (o.smpp != null) out.smpp = checkSmpp(o.smpp);
  if (o.http != null) out.http = checkHttpSms(o.http);
  const limits = checkSendLimits(o.limits, 'sms');
  if (limits) out.limits = limits;
  return out;
}

export function checkWebPush(v: unknown, at = 'push.webpush'): WebPushSettings {
  const o = objectAt(v, at);
  unknownKeys(o, ['vapid_public_key', 'vapid_private_key', 'subject'], at);
  // Kept as unpadded base64url (what web-push takes), whether given so or as padded standard base64.
  const pub = decodeP256Point(o.vapid_public_key, `${at}.vapid_public_key`).toString('base64url');
  const priv = decodeKey(o.vapid_private_key, `${at}.vapid_private_key`, 32).toString('base64url');
  const subject = stringAt(o.subject, `${at}.subject`, 1000)!;
  if (!/^(mailto:|https:\/\/)/.test(subject)) throw badRequest(`${at}.subject must be a mailto: or https: URL`);
  return { vapid_public_key: pub, vapid_private_key: priv, subject };
}

/** A PEM private key that can sign: RSA (FCM's RS256) or P-256 (APNs' ES256). */
function pemKey(v: unknown, at: string, type: 'rsa' | 'ec'): string {
  const pem = stringAt(v, at, 10_000)!;
  let ok = false;
  try {
    const k = createPrivateKey(pem);
    ok = k.asymmetricKeyType === type && (type === 'rsa' || k.asymmetricKeyDetails?.namedCurve === 'prime256v1');
  } catch {
    ok = false;
  }
  if (!ok) throw badRequest(`${at} is not ${type === 'rsa' ? 'an RSA' : 'a P-256 (ES256)'} private key in PEM`);
  return pem;
}

/** A provider endpoint: https://, or http:// for a local server (HTTP/2 without TLS for APNs). */
function endpointAt(v: unknown, at: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  try {
    return urlAt(v, at, ['http:', 'https:']);
  } catch {
    throw badRequest(`${at} must be an https:// URL (or http:// for a local server)`);
  }
}

function checkFcm(v: unknown, at = 'push.fcm'): FcmSettings {
  const o = objectAt(v, at);
  unknownKeys(o, ['service_account', 'endpoint'], at);
  const sa = objectAt(o.service_account, `${at}.service_account`);
  const sat = `${at}.service_account`;
  const account: FcmSettings['service_account'] = {
    ...sa,
    project_id: stringAt(sa.project_id, `${sat}.project_id`, 255)!,
    client_email: stringAt(sa.client_email, `${sat}.client_email`, 255)!,
    private_key: pemKey(sa.private_key, `${sat}.private_key`, 'rsa'),
  };
  if (sa.token_uri !== undefined) account.token_uri = endpointAt(sa.token_uri, `${sat}.token_uri`);
  if (sa.private_key_id !== undefined) account.private_key_id = stringAt(sa.private_key_id, `${sat}.private_key_id`, 255);
  const endpoint = endpointAt(o.endpoint, `${at}.endpoint`);
  return { service_account: account, ...(endpoint ? { endpoint } : {}) };
}

function checkApns(v: unknown, at = 'push.apns'): ApnsSettings {
  const o = objectAt(v, at);
  unknownKeys(o, ['key_id', 'team_id', 'private_key', 'topic', 'endpoint'], at);
  const out: ApnsSettings = {
    key_id: stringAt(o.key_id, `${at}.key_id`, 64)!,
    team_id: stringAt(o.team_id, `${at}.team_id`, 64)!,
    private_key: pemKey(o.private_key, `${at}.private_key`, 'ec'),
    topic: stringAt(o.topic, `${at}.topic`, 255)!,
  };
  const endpoint = endpointAt(o.endpoint, `${at}.endpoint`);
  return endpoint ? { ...out, endpoint } : out;
}

/** The longest TTL push services take: FCM's 28 days. */
const MAX_TTL_SECONDS = 2_419_200;

export function checkPushSettings(v: unknown): PushSettings {
  if (v === undefined || v === null) return {};
  const o = objectAt(v, 'push');
  unknownKeys(o, ['name', 'ttl', 'webpush', 'fcm', 'apns'], 'push');
  const out: PushSettings = {};
  const name = stringAt(o.name, 'push.name', 255, false);
  if (name) out.name = name;
  const ttl = intAt(o.ttl, 'push.ttl', 0, MAX_TTL_SECONDS);
  if (ttl !== undefined) out.ttl = ttl;
  if (o.webpush != null) out.webpush = checkWebPush(o.webpush);
  if (o.fcm != null) out.fcm = checkFcm(o.fcm);
  if (o.apns != null) out.apns = checkApns(o.apns);
  return out;
}

/** A host name: dot-separated labels of letters, digits and hyphens (IDNs as punycode, xn--...). */
const HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;
const DNS_LABEL = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
/** Below this an RSA key is breakable and verifiers treat the signature as none (RFC 8301). */
const MIN_DKIM_RSA_BITS = 1024;

/**
 * `email.dkim`: the signing domain, the selector and an RSA private key in PEM. nodemailer signs
 * rsa-sha256 only: an Ed25519 key (RFC 8463) would leave every mail silently unsigned, so it is refused.
 */
export function checkDkim(v: unknown, at = 'email.dkim'): DkimSettings {
  const o = objectAt(v, at);
  unknownKeys(o, ['domain', 'selector', 'private_key'], at);
  const domain = stringAt(o.domain, `${at}.domain`, 253)!.toLowerCase();
  if (!HOSTNAME.test(domain)) throw badRequest(`${at}.domain is not a host name`);
  const selector = stringAt(o.selector, `${at}.selector`, 63)!.toLowerCase();
  if (!DNS_LABEL.test(selector)) throw badRequest(`${at}.selector is not a DNS label (letters, digits and hyphens, up to 63)`);
  const pem = stringAt(o.private_key, `${at}.private_key`, 10_000)!;
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(pem);
  } catch {
    throw badRequest(`${at}.private_key is not a PEM private key`);
  }
  if (key.asymmetricKeyType !== 'rsa') throw badRequest(`${at}.private_key must be an RSA key (DKIM is signed rsa-sha256), not ${key.asymmetricKeyType}`);
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_DKIM_RSA_BITS) throw badRequest(`${at}.private_key has ${bits} bits; DKIM needs ${MIN_DKIM_RSA_BITS} or more (2048 advised)`);
  return { domain, selector, private_key: pem };
}

/** Settings from the environment that every resource gets unless it has its own. */
export interface ProviderDefaults {
  smppUrl: string | null;
  smsSender: string | null;
  webpush: WebPushSettings | null;
}

export const NO_PROVIDER_DEFAULTS: ProviderDefaults = { smppUrl: null, smsSender: null, webpush: null };

/**
 * The resource as its channels send with it: an SMS block with no provider takes SALVO_SMPP_URL,
 * one with no sender SALVO_SMS_SENDER; a push block with no webpush takes the SALVO_VAPID_* keys.
 * Only blocks of channels the resource has are completed.
 */
export function withProviderDefaults(r: Resource, d: ProviderDefaults): Resource {
  let { sms, push } = r;
  if (sms && (d.smsSender || d.smppUrl)) {
    sms = { ...sms };
    if (!sms.sender && d.smsSender) sms.sender = d.smsSender;
    if (!sms.smpp && !sms.http && d.smppUrl) sms.smpp = { url: d.smppUrl };
  }
  if (push && !push.webpush && d.webpush) push = { ...push, webpush: d.webpush };
  return sms === r.sms && push === r.push ? r : { ...r, sms, push };
}

/**
 * The peers a resource's settings make Salvo connect to, each with the field that names it: what the
 * egress policy checks when the resource is saved. Web Push endpoints come with each subscription and
 * are checked when a push is sent; FCM's and APNs' defaults are Google's and Apple's.
 */
export function resourcePeerUrls(r: { sms: SmsSettings | null; push: PushSettings | null }): { field: string; url: string }[] {
  const urls: { field: string; url: string }[] = [];
  if (r.sms?.smpp) urls.push({ field: 'sms.smpp.url', url: r.sms.smpp.url });
  // The URL's placeholders may sit anywhere but the host decides where it goes; they are filled with a letter.
  if (r.sms?.http) urls.push({ field: 'sms.http.url', url: r.sms.http.url.replace(/\{(to|sender|text)\}/g, 'x') });
  const fcm = r.push?.fcm;
  if (fcm?.endpoint) urls.push({ field: 'push.fcm.endpoint', url: fcm.endpoint });
  if (fcm?.service_account.token_uri) urls.push({ field: 'push.fcm.service_account.token_uri', url: fcm.service_account.token_uri });
  if (r.push?.apns?.endpoint) urls.push({ field: 'push.apns.endpoint', url: r.push.apns.endpoint });
  return urls;
}
