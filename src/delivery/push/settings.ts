/**
 * A resource's push providers, as resources/add stores them under `push` (docs/api.md, "Resources").
 * A provider that is absent leaves its subscriptions to the outbox.
 */
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
  token_uri: string;
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
export const APNS_ENDPOINT = 'https://api.push.apple.com';

export const pushSettingsOf = (r: Resource): PushSettings => (r.push ?? {}) as PushSettings;
