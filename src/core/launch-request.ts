/**
 * The parameters of a trigger launch (campaigns/triggers/start), checked and normalised: who it is
 * for (one profile by a matching mode, or a `custom_request` audience), how to pick their
 * subscription, and what it carries (content, custom_data, attachments).
 */
import { decodeAttachments, type Attachment } from './attachments.ts';
import type { SubscriptionFilter } from './choose.ts';
import { badRequest } from './errors.ts';
import { normalizeEmail, normalizePhone } from './fields.ts';
import { PROFILE_ID } from './ids.ts';
import { checkQuery, type MongoQuery } from './mongo-query.ts';

export const START_MATCHING = ['email', 'email_profile', 'email_sub', 'phone', 'phone_sub', 'profile_id', 'custom', 'push_sub'] as const;
export type StartMatching = (typeof START_MATCHING)[number];

/** One profile named by a matching mode; custom values are read as their field's type later. */
export interface SingleMatch {
  mode: StartMatching;
  value: unknown;
  fieldName: string | null;
  /** Narrows the subscription part of email and phone matching to one resource. */
  resourceId: number | null;
}

type Audience = { kind: 'single'; match: SingleMatch } | { kind: 'query'; query: MongoQuery };

export interface LaunchParams {
  audience: Audience;
  filter: SubscriptionFilter | null;
  content: Record<string, unknown>;
  customData: Record<string, unknown> | null;
  attachments: Attachment[];
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

/** `resource_id` of a trigger call, which narrows email and phone matching to one resource. */
export function resourceIdOf(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 2_147_483_647) throw badRequest("field 'resource_id' must be a resource id");
  return n;
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

export function parseLaunch(body: StartBody, attachLimit: number): LaunchParams {
  if (body.content !== undefined && body.content !== null && !isObject(body.content)) throw badRequest("field 'content' must be an object");
  if (body.custom_data !== undefined && body.custom_data !== null && !isObject(body.custom_data)) throw badRequest("field 'custom_data' must be an object");
  let audience: Audience;
  if (body.custom_request !== undefined && body.matching === undefined) {
    checkQuery(body.custom_request, 'custom_request');
    audience = { kind: 'query', query: body.custom_request };
  } else {
    if (body.custom_request !== undefined) throw badRequest('custom_request is used only without matching; send one or the other');
    const mode = (body.matching ?? 'email') as StartMatching;
    if (!START_MATCHING.includes(mode)) throw badRequest(`field 'matching' must be one of ${START_MATCHING.join(', ')}`);
    audience = { kind: 'single', match: singleMatch(body, mode) };
  }
  return {
    audience,
    // Altcraft: subscription_filter is not used with custom_request.
    filter: audience.kind === 'query' ? null : subscriptionFilter(body.subscription_filter),
    content: (body.content as Record<string, unknown> | undefined) ?? {},
    customData: (body.custom_data as Record<string, unknown> | null | undefined) ?? null,
    attachments: decodeAttachments(body.attach, attachLimit),
  };
}
