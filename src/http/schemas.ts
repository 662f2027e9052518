/**
 * TypeBox pieces the routes share. Each schema is at once the request's validation (Fastify's Ajv),
 * the handler's type (`Static`), the answer's serializer and the OpenAPI document. Where Altcraft's
 * forms need a JSON Schema TypeBox has no builder for (an id as number or numeric string, a string
 * enum with its type), `Type.Unsafe` keeps the exact schema, so validation errors read as before.
 */
import { type Static, type TObject, type TOptional, type TProperties, type TSchema, Type } from 'typebox';
import { MAX_ID } from '../core/ids.ts';

/** An id: Altcraft clients send numbers or numeric strings; both are taken (`toId` reads them). */
export const id = (description: string) =>
  Type.Unsafe<number | string>({ type: ['integer', 'string'], minimum: 1, maximum: MAX_ID, pattern: '^[1-9][0-9]{0,9}$', description });

/** An id in an answer: always a number. */
export const idOut = (description: string) => Type.Integer({ minimum: 1, description });

/** Ids of launches, messages, tasks and outbox entries: 64-bit in the store, bounded to exact JS integers. */
export const bigId = (description: string) => Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description });

export const str = (description: string, maxLength = 1000) => Type.String({ maxLength, description });
/** A string of an answer. */
export const text = (description: string) => Type.String({ description });
export const name = (description: string) => Type.String({ minLength: 1, maxLength: 255, description });
export const bool = (description: string) => Type.Boolean({ description });
export const int = (description: string, minimum: number, maximum: number) => Type.Integer({ minimum, maximum, description });

/** A string of a fixed set; `type` is kept so a number is refused as "must be a string". */
export const oneOf = <T extends string>(values: readonly T[], description?: string) =>
  Type.Unsafe<T>({ type: 'string', enum: [...values], ...(description ? { description } : {}) });

/** An object with keys of its own (content, custom_data, profile data): every key is kept, in requests and answers. */
export const anyObject = (description: string) => Type.Unsafe<Record<string, unknown>>({ type: 'object', additionalProperties: true, description });

/** Any JSON object, or null (taken as absent). */
export const anyObjectOrNull = (description: string) => Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true, description });

/** A value of any JSON type. */
export const anyValue = (description: string) => Type.Unknown({ description });

/** A value or null, as one JSON Schema type list (which the serializer reads without trying each branch). */
export const nullable = <T extends 'string' | 'integer' | 'boolean'>(type: T, description: string) =>
  Type.Unsafe<(T extends 'string' ? string : T extends 'integer' ? number : boolean) | null>({ type: [type, 'null'], description });

type WithOptionals<P extends TProperties, K extends keyof P> = { [k in keyof P]: k extends K ? P[k] : TOptional<P[k]> };

/** An object whose keys are optional but those listed in `required`; keys not listed are allowed (Altcraft clients send more). */
export function object<P extends TProperties, K extends keyof P & string = never>(
  properties: P,
  required: readonly K[] = [],
  description?: string,
): TObject<WithOptionals<P, K>> {
  const props: TProperties = {};
  for (const [key, schema] of Object.entries(properties)) props[key] = required.includes(key as K) ? schema : Type.Optional(schema);
  return Type.Object(props, description ? { description } : {}) as TObject<WithOptionals<P, K>>;
}

/** The filters of a list method: optional but those `required`, and a key that is no filter is refused (400) rather than ignored. */
export function filters<P extends TProperties, K extends keyof P & string = never>(properties: P, required: readonly K[] = []): TObject<WithOptionals<P, K>> {
  const o = object(properties, required);
  return Type.Object(o.properties, { additionalProperties: false }) as TObject<WithOptionals<P, K>>;
}

/**
 * An object of an answer: the keys it always has. Keys beyond them are sent too (additionalProperties), so an
 * answer never loses a key its schema does not name yet; the schema documents and types, it does not filter.
 */
export const answer = <P extends TProperties>(properties: P, description?: string) =>
  Type.Object(properties, { additionalProperties: true, ...(description ? { description } : {}) });

/** Settings of an answer that are null when they do not apply (a resource's email, sms, push); every key is sent. */
export function settingsOrNull<P extends TProperties, K extends keyof P & string = never>(properties: P, description: string, required: readonly K[] = []) {
  const settings = object(properties, required, description);
  return Type.Unsafe<Static<typeof settings> | null>({ ...settings, type: ['object', 'null'], additionalProperties: true });
}

export const array = <T extends TSchema>(items: T, description: string, maxItems = 1000) => Type.Array(items, { maxItems, description });
export const list = <T extends TSchema>(items: T, description: string) => Type.Array(items, { description });

/** The matching parameters a request names one profile by (profiles/get, import, update, import_and_start). */
export const matchingProperties = {
  matching: Type.String({ description: "How to find the profile: 'email' (default), 'phone', 'profile_id' or 'custom'" }),
  email: str('Email, for matching email', 254),
  phone: str('Phone in international format, for matching phone', 32),
  profile_id: str('24-hex profile id, for matching profile_id', 24),
  field_name: str('Custom field name, for matching custom', 64),
  field_value: Type.Unsafe<string | number | boolean>({ type: ['string', 'integer', 'boolean'], maxLength: 1000, description: 'Custom field value, for matching custom' }),
};

/** Opens, clicks and unsubscribes of some messages (store/queries/engagement.ts countEngagement): messages/stats, campaigns/stats. */
export const engagementCounts = (description: string) =>
  answer(
    {
      opened: Type.Integer({ description: 'Messages opened by a person (unique)' }),
      opens: Type.Integer({ description: 'Opens by a person in all' }),
      machine_opens: Type.Integer({ description: "Opens by a machine (a scanner, Apple Mail Privacy Protection's prefetch), not counted as read" }),
      clicked: Type.Integer({ description: 'Messages whose links a person clicked (unique)' }),
      clicks: Type.Integer({ description: 'Clicks by a person in all' }),
      machine_clicks: Type.Integer({ description: 'Clicks by a machine (a link scanner)' }),
      unsubscribed: Type.Integer({ description: 'Messages whose recipient unsubscribed through their link' }),
    },
    description,
  );
