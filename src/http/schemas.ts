/** JSON-schema pieces the routes share; they validate requests and write the OpenAPI document. */
import { badRequest } from '../core/errors.ts';

type Schema = Record<string, unknown>;

const MAX_ID = 2_147_483_647;

/** An id: Altcraft clients send numbers or numeric strings; both are taken. */
export const id = (description: string): Schema => ({
  type: ['integer', 'string'],
  minimum: 1,
  maximum: MAX_ID,
  pattern: '^[1-9][0-9]{0,9}$',
  description,
});

/** Ids of launches, messages and outbox entries: 64-bit in the store, bounded to exact JS integers. */
export const bigId = (description: string): Schema => ({ type: 'integer', minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description });

export function toId(v: number | string, name = 'id'): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1 || n > MAX_ID) throw badRequest(`field '${name}' is out of range (1 to ${MAX_ID})`);
  return n;
}

export const str = (description: string, maxLength = 1000): Schema => ({ type: 'string', maxLength, description });
export const name = (description: string): Schema => ({ type: 'string', minLength: 1, maxLength: 255, description });
export const bool = (description: string): Schema => ({ type: 'boolean', description });
export const int = (description: string, minimum: number, maximum: number): Schema => ({ type: 'integer', minimum, maximum, description });
export const anyObject = (description: string): Schema => ({ type: 'object', description });

export const object = (properties: Record<string, Schema>, required: string[] = [], description?: string): Schema => ({
  type: 'object',
  properties,
  required,
  ...(description ? { description } : {}),
});

export const array = (items: Schema, description: string, maxItems = 1000): Schema => ({ type: 'array', items, maxItems, description });

/** The matching parameters a request names one profile by (profiles/get, import, update). */
export const matchingProperties: Record<string, Schema> = {
  matching: { type: 'string', description: "How to find the profile: 'email' (default), 'phone', 'profile_id' or 'custom'" },
  email: str('Email, for matching email', 254),
  phone: str('Phone in international format, for matching phone', 32),
  profile_id: str('24-hex profile id, for matching profile_id', 24),
  field_name: str('Custom field name, for matching custom', 64),
  field_value: { type: ['string', 'integer', 'boolean'], maxLength: 1000, description: 'Custom field value, for matching custom' },
};
