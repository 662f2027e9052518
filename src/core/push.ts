/**
 * Push subscriptions: the browser's keys (RFC 8291) as imported, and which provider sends a push
 * subscription (docs/api.md, "Which provider sends a push").
 */
import { createPublicKey } from 'node:crypto';
import { badRequest } from './errors.ts';

/** The keys of a browser's PushSubscription.toJSON(), kept as unpadded base64url. */
export interface PushKeys {
  /** The browser's P-256 ECDH public key, uncompressed (65 bytes). */
  p256dh: string;
  /** The 16-byte authentication secret. Write-only: the API never shows it. */
  auth: string;
}

const BASE64 = /^[A-Za-z0-9_+/-]+={0,2}$/;

/** Decodes base64url (browsers) or standard base64 (some client libraries), with or without padding. */
export function decodeKey(value: unknown, name: string, bytes: number): Buffer {
  if (typeof value !== 'string' || value === '') throw badRequest(`${name} is required: base64url of ${bytes} bytes`);
  if (!BASE64.test(value)) throw badRequest(`${name} is not base64url`);
  const raw = Buffer.from(value.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), 'base64url');
  if (raw.length !== bytes) throw badRequest(`${name} must decode to ${bytes} bytes, not ${raw.length}`);
  return raw;
}

/** A P-256 public key as Web Push carries it: base64url of the uncompressed point (65 bytes). */
export function decodeP256Point(value: unknown, name: string): Buffer {
  const point = decodeKey(value, name, 65);
  if (point[0] !== 0x04) throw badRequest(`${name} must be an uncompressed P-256 point (starting with 0x04)`);
  try {
    createPublicKey({ key: { kty: 'EC', crv: 'P-256', x: point.subarray(1, 33).toString('base64url'), y: point.subarray(33).toString('base64url') }, format: 'jwk' });
  } catch {
    throw badRequest(`${name} is not a point on the P-256 curve`);
  }
  return point;
}

/** Checks a subscription's `keys` ({p256dh, auth}) and answers them in canonical form. */
export function normalizePushKeys(input: unknown, at: string): PushKeys {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw badRequest(`${at} must be an object {p256dh, auth}`);
  const k = input as Record<string, unknown>;
  const p256dh = decodeP256Point(k.p256dh, `${at}.p256dh`);
  const auth = decodeKey(k.auth, `${at}.auth`, 16);
  return { p256dh: p256dh.toString('base64url'), auth: auth.toString('base64url') };
}

export type PushProvider = 'webpush' | 'fcm' | 'apns';

const FCM_WORDS = new Set(['android', 'fcm', 'firebase', 'gcm']);
const APNS_WORDS = new Set(['ios', 'apns', 'apple', 'ipados']);

/**
 * Which provider sends a push subscription: keys mean a browser (Web Push); otherwise the words of
 * `provider` (split on anything but letters and digits, any case) name the app platform:
 * android, fcm, firebase, gcm → FCM; ios, apns, apple, ipados → APNs. Anything else has none.
 */
export function pushProviderOf(sub: { provider: string | null; keys: PushKeys | null }): PushProvider | null {
  if (sub.keys) return 'webpush';
  const words = (sub.provider ?? '').toLowerCase().split(/[^a-z0-9]+/);
  if (words.some((w) => FCM_WORDS.has(w))) return 'fcm';
  if (words.some((w) => APNS_WORDS.has(w))) return 'apns';
  return null;
}
