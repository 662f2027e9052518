/**
 * Altcraft's quick import (`POST /api/integrations/any/profile_import`): one flat set of parameters,
 * as a web form or a simple integration sends them, read into the request profiles/import takes (or,
 * with `trigger_id`, the one import_and_start takes) and run by that same code.
 *
 * Reading:
 * - `matching`: `email` (default) and `email_profile` match the profile's email (Salvo's profile
 *   matching by email reads only the profile's email), `phone` its phones, `field_name` the custom
 *   field named by the `field_name` parameter, whose value is that field's own parameter
 *   (`matching=field_name&field_name=CRM_ID&CRM_ID=42`).
 * - Every parameter that is not one of the method's own is a database field. Values arrive as strings
 *   from a URL or a form: a custom field's value is read as its type (`coerceFieldValue`: "42" is 42 for
 *   an int field, "true" for a bool, "a, b" for tags); a json field keeps the string. An empty value (a
 *   form's blank input) is not given at all.
 * - `email` is the profile's email; `phone` its phones, [phone] (unless matching is `phone`: then it is
 *   only the value matched on, so an existing profile keeps its other phones).
 * - `resource_id` subscribes the profile to that resource with the request's contact data: the email
 *   on its email channel, the phone on its sms channel, each where the resource has the channel.
 */
import { badRequest, notFound } from '../core/errors.ts';
import { findField } from '../core/fields.ts';
import { toId } from '../core/ids.ts';
import { coerceFieldValue } from '../core/matching.ts';
import type { SubscriptionInput } from '../core/subscriptions.ts';
import { loadDatabase } from './catalog-entries.ts';
import type { LaunchDeps } from './launch.ts';
import { importProfile } from './profiles.ts';
import { importAndStart, type LaunchLimits } from './tasks.ts';

/** The parameters that are the method's own; every other one is a database field. */
const OWN = new Set(['token', 'db_id', 'matching', 'field_name', 'resource_id', 'trigger_id', 'workflow_id', 'email', 'phone']);

/** Altcraft's quick import matching modes, as Salvo's profile matching. */
const MATCHING: Record<string, 'email' | 'phone' | 'custom'> = { email: 'email', email_profile: 'email', phone: 'phone', field_name: 'custom' };

export interface QuickImportResult {
  profileId: string;
  /** With trigger_id: the launch made with the import. */
  launchId: number | null;
}

/** One parameter's single value: a key given twice (`?a=1&a=2`) or a nested value is refused. */
function single(params: Record<string, unknown>, name: string): string | number | boolean | null | undefined {
  const v = params[name];
  if (Array.isArray(v)) throw badRequest(`parameter '${name}' is given more than once`);
  if (v !== null && typeof v === 'object') throw badRequest(`parameter '${name}' must be a single value, not an object`);
  return v as string | number | boolean | null | undefined;
}

/** A parameter's text, undefined when absent or empty. */
function textOf(params: Record<string, unknown>, name: string): string | undefined {
  const v = single(params, name);
  if (v === undefined || v === null || v === '') return undefined;
  if (typeof v === 'boolean') throw badRequest(`parameter '${name}' must be a string`);
  return String(v);
}

/** An id parameter, as a number or a string of digits. */
function idOf(params: Record<string, unknown>, name: string): number | undefined {
  const v = textOf(params, name);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v.trim())) throw badRequest(`parameter '${name}' must be an integer id`);
  return toId(v.trim(), name);
}

export async function quickImport(deps: LaunchDeps, params: Record<string, unknown>, limits: LaunchLimits): Promise<QuickImportResult> {
  if (single(params, 'workflow_id') !== undefined) {
    throw badRequest("parameter 'workflow_id': Salvo has no scenarios (workflows); use trigger_id to launch a trigger campaign");
  }
  const dbId = idOf(params, 'db_id');
  if (dbId === undefined) throw badRequest("parameter 'db_id' is required");
  const db = await loadDatabase(deps.store, dbId);
  const given = textOf(params, 'matching') ?? 'email';
  const mode = MATCHING[given];
  if (!mode) throw badRequest(`parameter 'matching' must be one of ${Object.keys(MATCHING).join(', ')}, not '${given}'`);
  const fieldName = mode === 'custom' ? textOf(params, 'field_name') : undefined;
  if (mode === 'custom' && fieldName === undefined) throw badRequest("parameter 'field_name' is required for matching 'field_name'");

  const email = textOf(params, 'email');
  const phone = textOf(params, 'phone');
  const data: Record<string, unknown> = {};
  for (const name of Object.keys(params)) {
    if (OWN.has(name)) continue;
    const value = single(params, name);
    if (value === undefined || value === '') continue;
    const field = findField(db, name);
    data[name] = typeof value === 'string' && field && field.type !== 'json' ? coerceFieldValue(field, value, `field '${name}'`) : value;
  }
  if (email !== undefined) data.email = email;
  if (phone !== undefined && mode !== 'phone') data.phones = [phone];
  if (Object.keys(data).length === 0 && !(mode === 'phone' && phone)) {
    throw badRequest(`give at least one database field: email, phone or a field of database ${db.id}`);
  }

  const resourceId = idOf(params, 'resource_id');
  if (resourceId !== undefined) data.subscriptions = await contactSubscriptions(deps, resourceId, email, phone);

  // The value matched on, where profiles/import and import_and_start read it: the request's root.
  const matchedBy = mode === 'email' ? 'email' : mode === 'phone' ? 'phone' : fieldName!;
  const value = textOf(params, matchedBy);
  if (value === undefined) throw badRequest(`parameter '${matchedBy}' is required for matching '${given}'`);
  const root = mode === 'email' ? { email } : mode === 'phone' ? { phone } : { field_name: fieldName, field_value: value };
  const request = { db_id: db.id, matching: mode, ...root, data };
  const triggerId = idOf(params, 'trigger_id');
  if (triggerId === undefined) return { profileId: await importProfile(deps.store, request, 'upsert'), launchId: null };
  const r = await importAndStart(deps, { ...request, id: triggerId }, limits);
  if ('refused' in r) throw r.refused;
  return { profileId: r.profileId!, launchId: r.launch.id };
}

/** The subscriptions `resource_id` asks for: the email on the resource's email channel, the phone on its sms channel. */
async function contactSubscriptions(deps: LaunchDeps, resourceId: number, email: string | undefined, phone: string | undefined): Promise<SubscriptionInput[]> {
  const resource = await deps.store.getResource(resourceId);
  if (!resource) throw notFound(`resource ${resourceId} not found`);
  const subs: SubscriptionInput[] = [];
  if (email !== undefined && resource.channels.includes('email')) subs.push({ resource_id: resourceId, channel: 'email', email });
  if (phone !== undefined && resource.channels.includes('sms')) subs.push({ resource_id: resourceId, channel: 'sms', phone });
  if (subs.length === 0) {
    throw badRequest(`parameter 'resource_id': resource ${resourceId} has no channel for the contact data given (email needs its 'email' channel, phone its 'sms' channel)`);
  }
  return subs;
}
