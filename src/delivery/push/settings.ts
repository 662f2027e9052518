/**
 * A resource's push providers, as resources/add stores them under `push` (docs/api.md, "Resources").
 * A provider that is absent leaves its subscriptions to the outbox. The types live beside Resource in
 * core/types.ts and the checks in core/resource-settings.ts; this module holds the providers' defaults.
 */
import type { PushSettings, Resource } from '../../core/types.ts';

export type { ApnsSettings, FcmServiceAccount, FcmSettings, PushSettings, WebPushSettings } from '../../core/types.ts';

export const DEFAULT_TTL_SECONDS = 86_400;
export const FCM_ENDPOINT = 'https://fcm.googleapis.com';
export const GOOGLE_TOKEN_URI = 'https://oauth2.googleapis.com/token';
export const APNS_ENDPOINT = 'https://api.push.apple.com';

export const pushSettingsOf = (r: Resource): PushSettings => r.push ?? {};
