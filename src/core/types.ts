/** The domain's types: the one place they live. Store rows, API shapes and engine inputs use these. */
import type { Role } from './roles.ts';
import type { PushKeys } from './push.ts';
import type { SendLimits } from './send-limits.ts';
import type { SentCopy } from './sent-copy.ts';

/** The channels Salvo sends on (a campaign's send_channel). */
export const CHANNELS = ['email', 'sms', 'push'] as const;
export type Channel = (typeof CHANNELS)[number];

/**
 * The channels a subscription (and a resource) may have: Altcraft's messengers too. Salvo stores, shows and
 * counts their subscriptions but has no provider to send on them.
 */
export const SUBSCRIPTION_CHANNELS = [...CHANNELS, 'notify', 'viber', 'whatsapp', 'telegram_bot'] as const;
export type SubscriptionChannel = (typeof SUBSCRIPTION_CHANNELS)[number];

/** What Altcraft's subscription object carries beside the address: kept as given, shown by profile reads. */
export interface SubscriptionExtra {
  /** The messenger channels' contact: {id} (telegram_bot chat) or {phone}. */
  cc_data?: Record<string, unknown>;
  custom_fields?: Record<string, unknown>;
  cats?: string[];
}

export const FIELD_TYPES = ['string', 'int', 'bool', 'date', 'tags', 'json'] as const;
export type FieldType = (typeof FIELD_TYPES)[number];

export interface FieldDef {
  name: string;
  type: FieldType;
  indexed: boolean;
}

export interface Database {
  id: number;
  name: string;
  fields: FieldDef[];
  created_at: number;
}

/** A profile's global status; anything but `active` stops every send to the profile. */
export const PROFILE_STATUSES = ['active', 'unsubscribed', 'suspended', 'complainer', 'invalid'] as const;
export type ProfileStatus = (typeof PROFILE_STATUSES)[number];

/**
 * Profile fields as stored: `email` and `phones` have columns of their own (they are matched on),
 * everything else (system `_fname`, `_bdate`, ... and custom fields) is in `data`.
 */
export interface Profile {
  id: string;
  db_id: number;
  email: string | null;
  phones: string[];
  status: ProfileStatus;
  md5: string | null;
  xxh: string | null;
  data: Record<string, unknown>;
  created_at: number;
  updated_at: number;
}

export const SUBSCRIPTION_STATUSES = [
  'subscribed',
  'unsubscribed',
  'complainer',
  'hardbounced',
  'unconfirmed',
  'suspended',
  'invalid',
] as const;
export type SubscriptionStatus = (typeof SUBSCRIPTION_STATUSES)[number];

/** `address` is the email for email, the E.164 phone for sms, the subscription_id for push. */
export interface Subscription {
  id: number;
  profile_id: string;
  db_id: number;
  resource_id: number;
  channel: SubscriptionChannel;
  address: string;
  provider: string | null;
  /** A browser push subscription's keys (Web Push); null for the rest. */
  keys: PushKeys | null;
  extra: SubscriptionExtra | null;
  status: SubscriptionStatus;
  priority: number;
  created_at: number;
  updated_at: number;
}

export interface EmailSender {
  from_email: string;
  from_name?: string;
  replyto_email?: string;
  replyto_name?: string;
  /** Opens: an invisible pixel in the HTML (default off). */
  track_opens?: boolean;
  /** Clicks: each http(s) link a signed redirect (default off). */
  track_clicks?: boolean;
  /** An address List-Unsubscribe names beside its URL (mailto:). */
  unsubscribe_mailto?: string;
  /** Every mail of the resource is signed with this key (core/resource-settings.ts checks it). */
  dkim?: DkimSettings;
  /** Sending limits across all processes (core/send-limits.ts). */
  limits?: SendLimits;
}

/** DKIM (RFC 6376): the public key is published as TXT at `<selector>._domainkey.<domain>`. */
export interface DkimSettings {
  domain: string;
  selector: string;
  /** PEM, RSA of 1024 bits or more; a secret (core/resource-secrets.ts). */
  private_key: string;
}

/** SMPP 3.4 to an SMSC: `url` is smpp://system_id:password@host:port (smpps:// or `tls` for TLS). */
export interface SmppSettings {
  url: string;
  tls?: boolean;
  /** submit_sm sent and not yet answered, at most (default 10). */
  window?: number;
  /** bind's system_type (default empty). */
  system_type?: string;
  /** Seconds between enquire_link keep-alives (default 30). */
  enquire_link_seconds?: number;
}

/** A plain HTTP(S) SMS API: `{to}`, `{sender}`, `{text}` in url, header values and body are filled in per message. */
export interface HttpSmsSettings {
  url: string;
  method?: 'GET' | 'POST' | 'PUT' | 'PATCH';
  headers?: Record<string, string>;
  body?: string;
  /** Per request (default 15). */
  timeout_seconds?: number;
}

/** A resource's SMS block: the sender and at most one provider; neither provider captures SMS in the outbox. */
export interface SmsSettings {
  sender?: string;
  smpp?: SmppSettings;
  http?: HttpSmsSettings;
  /** Sending limits across all processes (core/send-limits.ts). */
  limits?: SendLimits;
}

export interface WebPushSettings {
  vapid_public_key: string;
  vapid_private_key: string;
  /** mailto: or https: contact for the push service (VAPID `sub`). */
  subject: string;
}

/** The JSON key file of a Google service account; other keys of the file are kept and ignored. */
export interface FcmServiceAccount {
  project_id: string;
  client_email: string;
  private_key: string;
  private_key_id?: string;
  /** Where the JWT is exchanged for an access token; Google's when absent (key files carry it). */
  token_uri?: string;
  [key: string]: unknown;
}

/** Firebase Cloud Messaging HTTP v1: the service account key file as Google issues it. */
export interface FcmSettings {
  service_account: FcmServiceAccount;
  /** Default https://fcm.googleapis.com. */
  endpoint?: string;
}

/** APNs with a token (.p8 key, ES256 JWT). */
export interface ApnsSettings {
  key_id: string;
  team_id: string;
  private_key: string;
  /** The app's bundle id (apns-topic). */
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

export interface Resource {
  id: number;
  name: string;
  channels: SubscriptionChannel[];
  email: EmailSender | null;
  sms: SmsSettings | null;
  push: PushSettings | null;
  tracking_domain: string | null;
  /** Public by design (pages embed it): authenticates push_subscribe for this resource only. */
  resource_token: string;
  created_at: number;
}

interface EmailTemplate {
  subject: string;
  html?: string;
  text?: string;
  from_email?: string;
  from_name?: string;
  replyto_email?: string;
  replyto_name?: string;
}
interface SmsTemplate {
  text: string;
}
interface PushTemplate {
  title: string;
  body: string;
  url?: string;
  icon?: string;
}
export interface TemplateChannels {
  email?: EmailTemplate;
  sms?: SmsTemplate;
  push?: PushTemplate;
}

export interface Template {
  id: number;
  name: string;
  channels: TemplateChannels;
  created_at: number;
  updated_at: number;
}

export const TRIGGER_TYPES = ['api_call', 'api_import', 'action', 'update', 'pixel', 'subscribe'] as const;
export type TriggerType = (typeof TRIGGER_TYPES)[number];

/** One message of a campaign: the template and the keys that override it. */
export interface CampaignContent {
  message_id: number;
  /** A/B content: this variant's share among the campaign's variants (a positive integer; 1 when absent). */
  weight?: number;
  subject?: string;
  from_email?: string;
  from_name?: string;
  replyto_email?: string;
  replyto_name?: string;
}

export interface Campaign {
  id: number;
  name: string;
  is_active: boolean;
  trigger_type: TriggerType;
  send_channel: Channel;
  resource_id: number;
  db_id: number;
  content: CampaignContent[];
  skip_minutes: number;
  subid: string | null;
  unconditional_sending: boolean;
  /** Mail a person cannot refuse (receipts, password resets): no List-Unsubscribe headers. */
  transactional: boolean;
  attributes: Record<string, unknown>;
  content_filter: Record<string, unknown> | null;
  /** The opaque part of the v1.0 link; bound to db_id, renewed when db_id changes. */
  link_key: string;
  created_at: number;
  updated_at: number;
}

export interface CampaignLogEntry {
  id: number;
  campaign_id: number;
  level: 'info' | 'warning' | 'error';
  message: string;
  time: number;
}

export interface ApiToken {
  id: number;
  name: string;
  hash: string;
  role: Role;
  created_at: number;
  last_used_at: number | null;
}

/** `failed`: its expansion met a problem no retry mends (the campaign log says which); what it queued before goes out. */
const LAUNCH_STATES = ['done', 'expanding', 'filtered', 'aborted', 'failed'] as const;
export type LaunchState = (typeof LAUNCH_STATES)[number];

/** One trigger call. A `custom_request` audience is expanded into messages in pages (`cursor`). */
export interface Launch {
  id: number;
  campaign_id: number;
  kind: string;
  state: LaunchState;
  content: Record<string, unknown>;
  custom_data: Record<string, unknown> | null;
  audience: Record<string, unknown> | null;
  cursor: string | null;
  total: number;
  created_at: number;
  updated_at: number;
}

/**
 * `delivered` and `undelivered` follow `sent` when the provider reports the end (an SMPP delivery
 * receipt); a message without receipts stays `sent`. `captured` is final like `sent`, for a message
 * kept in the outbox because no provider is configured for its channel: nothing left the server.
 */
export const MESSAGE_STATUSES = ['queued', 'waiting', 'sending', 'sent', 'captured', 'delivered', 'undelivered', 'failed', 'skipped'] as const;
export type MessageStatus = (typeof MESSAGE_STATUSES)[number];

export interface HistoryEntry {
  status: MessageStatus;
  time: number;
  detail?: string;
  /** Only on the entry that stands for entries left out of a long history (core/history.ts): how many. */
  omitted?: number;
}

export interface Message {
  id: number;
  launch_id: number;
  campaign_id: number;
  profile_id: string;
  subscription_id: number | null;
  channel: Channel;
  address: string | null;
  status: MessageStatus;
  skip_reason: string | null;
  priority: number;
  attempts: number;
  next_attempt_at: number;
  lease_until: number | null;
  worker: string | null;
  last_error: string | null;
  history: HistoryEntry[];
  /** Field values used for this message only (v1.0 `fields` with options 0 and 1). */
  overrides: Record<string, unknown> | null;
  /** A batch item's own custom_data; the launch's otherwise. */
  custom_data: Record<string, unknown> | null;
  /** A/B content: the index in the campaign's content of the variant this message gets, and its template; null before A/B content. */
  variant: number | null;
  template_id: number | null;
  subject: string | null;
  body: string | null;
  /** What was sent besides subject and body, kept with the body (core/sent-copy.ts). */
  sent_copy: SentCopy | null;
  created_at: number;
  updated_at: number;
  sent_at: number | null;
  /** The provider's id for the message (SMPP message_id of its first part), for receipts and support. */
  provider_message_id: string | null;
  /** The send slot a sending limit gave it when it held it (delivery/send-limits.ts); null otherwise. */
  send_slot_at?: number | null;
  /** What its recipient did through its public links (email): opens and clicks, a person's and a machine's, and the unsubscribe. */
  engagement: { opens: number; machine_opens: number; clicks: number; machine_clicks: number; unsubscribed_at: number | null };
}

/** What a launch writes per recipient. */
export type NewMessage = Pick<
  Message,
  | 'campaign_id'
  | 'profile_id'
  | 'subscription_id'
  | 'channel'
  | 'address'
  | 'status'
  | 'skip_reason'
  | 'priority'
  | 'next_attempt_at'
  | 'overrides'
  | 'custom_data'
  | 'variant'
  | 'template_id'
>;

const TASK_STATES = ['queued', 'running', 'done', 'failed'] as const;
type TaskState = (typeof TASK_STATES)[number];

export interface ItemError {
  index: number;
  error: number;
  error_text: string;
}

/** A batch launch run in the background: its items are processed in chunks, each committed with `processed`. */
export interface Task {
  id: number;
  kind: 'start_batch' | 'import_and_start_batch';
  state: TaskState;
  campaign_id: number;
  launch_id: number;
  payload: Record<string, unknown>;
  total: number;
  processed: number;
  sent: number;
  skipped: number;
  failed: number;
  errors: ItemError[];
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}
