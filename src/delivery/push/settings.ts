/**
 * A resource's push providers, as resources/add stores them under `push` (docs/api.md, "Resources").
 * A provider that is absent leaves its subscriptions to the outbox.
 */
import { createPrivateKey } from 'node:crypto';
import { badRequest } from '../../core/errors.ts';
import { decodeKey, decodeP256Point } from '../../core/push.ts';
import type { Resource } from '../../core/types.ts';

export interface WebPushSettings {
  /** The application server key (RFC 8292): P-256 public key, uncompressed, base64url (the key a site gives to pushManager.subscribe). */
  vapid_public_key: string;
  /** Its private key, base64url of the 32-byte scalar (web-push generate-vapid-keys prints both). */
  vapid_private_key: string;
  /** A mailto: or https: contact for the push services. */
  subject: string;
}

/** The JSON key file of a Google service account; other keys of the file are kept and ignored. */
export interface FcmServiceAccount {
  client_email: string;
  private_key: string;
  /** Where the JWT is exchanged for an access token; Google's when absent (key files carry it). */
  token_uri?: string;
  project_id: string;
  [key: string]: unknown;
}

export interface FcmSettings {
  service_account: FcmServiceAccount;
  /** Default https://fcm.googleapis.com. */
  endpoint?: string;
}

export interface ApnsSettings {
  key_id: string;
  team_id: string;
  /** The .p8 signing key: a PKCS#8 PEM of a P-256 key. */
  private_key: string;
  /** The app's bundle id. */
  topic: string;
  /** Default https://api.push.apple.com; http:// speaks HTTP/2 without TLS (local servers and tests). */
  endpoint?: string;
}

export interface PushSettings {
  name?: string;
  /** How long a push service keeps an undelivered push, in seconds (TTL, FCM ttl, apns-expiration). */
  ttl?: number;
  webpush?: WebPushSettings;
  fcm?: FcmSettings;
  apns?: ApnsSettings;
}

export const DEFAULT_TTL_SECONDS = 86_400;
export const FCM_ENDPOINT = 'https://fcm.googleapis.com';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const APNS_ENDPOINT = 'https://api.push.apple.com';

export const pushSettingsOf = (r: Resource): PushSettings => (r.push ?? {}) as PushSettings;

const isUrl = (v: unknown, schemes: string[]) => {
  try {
    return typeof v === 'string' && schemes.includes(new URL(v).protocol);
  } catch {
    return false;
  }
};

function privateKeyOf(pem: unknown, name: string, type: 'rsa' | 'ec'): void {
  let ok = false;
  try {
    const k = createPrivateKey(String(pem));
    ok = k.asymmetricKeyType === type && (type === 'rsa' || k.asymmetricKeyDetails?.namedCurve === 'prime256v1');
  } catch {
    ok = false;
  }
  if (!ok) throw badRequest(`${name} is not ${type === 'rsa' ? 'an RSA' : 'a P-256 (ES256)'} private key in PEM`);
}

function required(o: Record<string, unknown>, keys: string[], at: string): void {
  for (const k of keys) if (typeof o[k] !== 'string' || o[k] === '') throw badRequest(`${at}.${k} is required`);
}

/**
 * Checks each provider's settings when a resource is saved, so that a key that cannot sign is a 400
 * now rather than a failed push later; VAPID keys are kept as unpadded base64url (what web-push takes).
 * The JSON schema has checked the types.
 */
export function normalizePushSettings(p: PushSettings): PushSettings {
  if (p.webpush) {
    const pub = decodeP256Point(p.webpush.vapid_public_key, 'push.webpush.vapid_public_key');
    const priv = decodeKey(p.webpush.vapid_private_key, 'push.webpush.vapid_private_key', 32);
    if (!isUrl(p.webpush.subject, ['mailto:', 'https:'])) throw badRequest('push.webpush.subject must be a mailto: or https: URL');
    p = { ...p, webpush: { ...p.webpush, vapid_public_key: pub.toString('base64url'), vapid_private_key: priv.toString('base64url') } };
  }
  if (p.fcm) {
    const sa = p.fcm.service_account as unknown as Record<string, unknown>;
    required(sa, ['client_email', 'private_key', 'project_id'], 'push.fcm.service_account');
    privateKeyOf(sa.private_key, 'push.fcm.service_account.private_key', 'rsa');
    if (sa.token_uri !== undefined && !isUrl(sa.token_uri, ['https:', 'http:'])) throw badRequest('push.fcm.service_account.token_uri must be an https:// URL');
    if (p.fcm.endpoint !== undefined && !isUrl(p.fcm.endpoint, ['https:', 'http:'])) throw badRequest('push.fcm.endpoint must be an https:// URL');
  }
  if (p.apns) {
    required(p.apns as unknown as Record<string, unknown>, ['key_id', 'team_id', 'private_key', 'topic'], 'push.apns');
    privateKeyOf(p.apns.private_key, 'push.apns.private_key', 'ec');
    if (p.apns.endpoint !== undefined && !isUrl(p.apns.endpoint, ['https:', 'http:'])) throw badRequest('push.apns.endpoint must be an https:// URL (or http:// for HTTP/2 without TLS)');
  }
  return p;
}
