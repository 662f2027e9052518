/**
 * The parameters of a trigger launch (campaigns/triggers/start), checked and normalised: who it is
 * for (one profile by a matching mode, or a `custom_request` audience), how to pick their
 * subscription, and what it carries (content, custom_data, attachments).
 */
import type { Steps } from '../support/steps.ts';
import { decodeAttachments, type Attachment } from './attachments.ts';
import type { SubscriptionFilter } from './choose.ts';
import { checkBatchContentSize } from './content-size.ts';
import { badRequest } from './errors.ts';
import { normalizeEmail, normalizePhone } from './fields.ts';
import { isId, PROFILE_ID, toId } from './ids.ts';
import { startMatching, type StartMatching } from './matching.ts';
import { checkQuery, compileQuery, type MongoQuery } from './mongo-query.ts';
import type { Campaign } from './types.ts';

/** One profile named by a matching mode; custom values are read as their field's type later. */
export interface SingleMatch {
  mode: StartMatching;
  value: unknown;
  fieldName: string | null;
  /** Narrows the subscription part of email and phone matching to one resource. */
  resourceId: number | null;
}

type Audience = { kind: 'single'; match: SingleMatch } | { kind: 'query'; query: MongoQuery };

/** What every message of a launch carries. */
export interface LaunchContent {
  content: Record<string, unknown>;
  customData: Record<string, unknown> | null;
  attachments: Attachment[];
}

export interface LaunchParams extends LaunchContent {
  audience: Audience;
  filter: SubscriptionFilter | null;
}

export interface StartBody {
  matching?: string;
  email?: unknown;
  phone?: unknown;
  profile_id?: unknown;
  field_name?: unknown;
  field_value?: unknown;
  subscription_id?: unknown;
  resource_id?: unknown;
  custom_request?: unknown;
  subscription_filter?: unknown;
  content?: unknown;
  custom_data?: unknown;
  attach?: unknown;
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

function required(body: StartBody, name: keyof StartBody, mode: string): unknown {
  const v = body[name];
  if (v === undefined || v === null || v === '') throw badRequest(`field '${name}' is required for matching '${mode}'`);
  return v;
}

/** The campaign id of a trigger call: `id`, or `trigger_id` as other trigger methods name it. */
export function campaignIdOf(body: { id?: number | string; trigger_id?: number | string }): number {
  const raw = body.id ?? body.trigger_id;
  if (raw === undefined) throw badRequest("field 'id' is required");
  return toId(raw, body.id !== undefined ? 'id' : 'trigger_id');
}

/** `resource_id` of a trigger call, which narrows email and phone matching to one resource. */
export function resourceIdOf(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  const n = Number(v);
  if (!isId(n)) throw badRequest("field 'resource_id' must be a resource id");
  return n;
}

function checkContentObjects(body: { content?: unknown; custom_data?: unknown }): void {
  for (const key of ['content', 'custom_data'] as const) {
    const v = body[key];
    if (v !== undefined && v !== null && !isObject(v)) throw badRequest(`field '${key}' must be an object`);
  }
}

/** content, custom_data and attach of a request whose content and custom_data are checked objects. */
function* launchContent(body: StartBody, attachLimit: number): Steps<LaunchContent> {
  return {
    content: (body.content as Record<string, unknown> | undefined) ?? {},
    customData: (body.custom_data as Record<string, unknown> | null | undefined) ?? null,
    attachments: yield* decodeAttachments(body.attach, attachLimit),
  };
}

/**
 * What a batch launch carries for all its items; its size is counted with each item's custom_data.
 * In steps, as parseLaunch.
 */
export function* parseBatchContent(body: StartBody & { data?: unknown }, limits: { attachLimit: number; contentLimit: number }): Steps<LaunchContent> {
  checkContentObjects(body);
  checkBatchContentSize(body, limits.contentLimit);
  return yield* launchContent(body, limits.attachLimit);
}

/** import_and_start's `timeout` {days, hours, minutes}: how long to hold the message, at most a year. */
export function importDelay(t: { days?: number; hours?: number; minutes?: number } | undefined): number {
  if (t === undefined || t === null) return 0;
  const { days = 0, hours = 0, minutes = 0 } = t;
  const ms = ((days * 24 + hours) * 60 + minutes) * 60_000;
  if (ms > 365 * 86_400_000) throw badRequest("field 'timeout' is longer than a year");
  return ms;
}

export function singleMatch(body: StartBody, mode: StartMatching): SingleMatch {
  const base = { mode, fieldName: null, resourceId: resourceIdOf(body.resource_id) };
  switch (mode) {
    case 'email':
    case 'email_profile':
    case 'email_sub':
      return { ...base, value: normalizeEmail(required(body, 'email', mode)) };
    case 'phone':
    case 'phone_sub':
      return { ...base, value: normalizePhone(required(body, 'phone', mode)) };
    case 'profile_id': {
      const id = required(body, 'profile_id', mode);
      if (typeof id !== 'string' || !PROFILE_ID.test(id)) throw badRequest("field 'profile_id' must be a 24-hex profile id");
      return { ...base, value: id };
    }
    case 'custom': {
      const name = required(body, 'field_name', mode);
      if (typeof name !== 'string') throw badRequest("field 'field_name' must be a string");
      if (body.field_value === undefined || body.field_value === null) throw badRequest("field 'field_value' is required for matching 'custom'");
      return { ...base, value: body.field_value, fieldName: name };
    }
    case 'push_sub': {
      const id = body.subscription_id ?? (isObject(body.subscription_filter) ? body.subscription_filter.subscription_id : undefined);
      if (typeof id !== 'string' || id === '') {
        throw badRequest("field 'subscription_id' (or subscription_filter.subscription_id) is required for matching 'push_sub'");
      }
      return { ...base, value: id };
    }
  }
}

function subscriptionFilter(v: unknown): SubscriptionFilter | null {
  if (v === undefined || v === null) return null;
  if (!isObject(v)) throw badRequest("field 'subscription_filter' must be an object");
  const f: SubscriptionFilter = { not_strict: false };
  if (v.not_strict !== undefined) {
    if (typeof v.not_strict !== 'boolean') throw badRequest("field 'subscription_filter.not_strict' must be true or false");
    f.not_strict = v.not_strict;
  }
  if (v.email !== undefined) f.email = normalizeEmail(v.email, 'subscription_filter.email');
  if (v.phone !== undefined) f.phone = normalizePhone(v.phone, 'subscription_filter.phone');
  for (const key of ['subscription_id', 'provider'] as const) {
    if (v[key] === undefined) continue;
    if (typeof v[key] !== 'string' || v[key] === '') throw badRequest(`field 'subscription_filter.${key}' must be a non-empty string`);
    f[key] = v[key] as string;
  }
  return f;
}

/**
 * A trigger call's parameters. In steps (support/steps.ts): large attachments are decoded a step at a
 * time, so that the caller can let the event loop run between steps (engine/in-turns.ts).
 */
export function* parseLaunch(body: StartBody, attachLimit: number): Steps<LaunchParams> {
  checkContentObjects(body);
  let audience: Audience;
  // null is taken as absent: clients that serialise every field send custom_request: null with matching.
  const query = body.custom_request ?? undefined;
  if (query !== undefined && body.matching === undefined) {
    checkQuery(query, 'custom_request');
    audience = { kind: 'query', query };
  } else {
    if (query !== undefined) throw badRequest('custom_request is used only without matching; send one or the other');
    audience = { kind: 'single', match: singleMatch(body, startMatching(body.matching)) };
  }
  return {
    audience,
    // Altcraft: subscription_filter is not used with custom_request.
    filter: audience.kind === 'query' ? null : subscriptionFilter(body.subscription_filter),
    ...(yield* launchContent(body, attachLimit)),
  };
}

/** A launch whose content does not match its campaign's content_filter sends nothing (it is recorded as filtered). */
export const passesContentFilter = (c: Campaign, content: Record<string, unknown>): boolean =>
  !c.content_filter || compileQuery(c.content_filter, 'content_filter')(content);
