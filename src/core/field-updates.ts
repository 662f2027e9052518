/**
 * Altcraft's update functions ("Database fields functional update"): a field's value in profiles/import
 * or update may be `{"action": ..., "value": ..., "submatch": ...}` instead of the value itself. `set`
 * and `unset` are plain writes (fields.ts turns them into a value or null); the others change what the
 * profile holds, so they are kept as updates and applied to the stored profile when it is written.
 */
import { badRequest } from './errors.ts';
import type { FieldType } from './types.ts';

/** The largest string, or JSON value as text, a field holds (fields.ts checks writes against it too). */
export const MAX_VALUE_CHARS = 65_535;

const UPDATE_ACTIONS = ['set', 'unset', 'incr', 'add', 'delete', 'upsert'] as const;
type UpdateAction = (typeof UPDATE_ACTIONS)[number];

/** An update that depends on the stored value. */
export type FieldUpdate =
  | { field: string; action: 'incr'; by: number }
  | { field: string; action: 'add' | 'delete'; kind: 'tags' | 'json' | 'phones'; values: unknown[] }
  | { field: string; action: 'upsert'; value: unknown; submatch: string[] };

const FUNCTION_KEYS = new Set(['action', 'value', 'submatch']);

/**
 * Is this value an update function? An object whose `action` is a string and whose other keys are only
 * `value` and `submatch`. (A json field that must hold such an object literally is written with `set`.)
 */
export function isUpdateFunction(v: unknown): v is { action: string; value?: unknown; submatch?: unknown } {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return false;
  const o = v as Record<string, unknown>;
  return typeof o.action === 'string' && Object.keys(o).every((k) => FUNCTION_KEYS.has(k));
}

export function updateAction(name: string, action: string): UpdateAction {
  if (!(UPDATE_ACTIONS as readonly string[]).includes(action)) {
    throw badRequest(`field '${name}': action '${action}' is not an update function (${UPDATE_ACTIONS.join(', ')})`);
  }
  return action as UpdateAction;
}

const UNSAFE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

/**
 * Checks an update that depends on the stored value, for a field of `type` (`phones` for the phone list;
 * null for system fields, which take only set and unset). `normalize` reads one list element as the field
 * does (a tag, a phone).
 */
export function checkFieldUpdate(
  name: string,
  type: FieldType | 'phones' | null,
  fn: { action: 'incr' | 'add' | 'delete' | 'upsert'; value?: unknown; submatch?: unknown },
  normalizeList: (value: unknown) => unknown[],
): FieldUpdate {
  const refuse = (what: string) => badRequest(`field '${name}': ${fn.action} ${what}`);
  switch (fn.action) {
    case 'incr':
      if (type !== 'int') throw refuse(`applies to int fields only${type ? `, not ${type}` : ''}`);
      if (typeof fn.value !== 'number' || !Number.isSafeInteger(fn.value)) throw refuse('takes an integer value (negative to decrease)');
      return { field: name, action: 'incr', by: fn.value };
    case 'add':
    case 'delete':
      if (type !== 'tags' && type !== 'json' && type !== 'phones') throw refuse(`applies to tags, json (array of objects) and phones fields${type ? `, not ${type}` : ''}`);
      if (type === 'json' && !Array.isArray(fn.value)) throw refuse('takes an array value');
      return { field: name, action: fn.action, kind: type, values: type === 'json' ? (fn.value as unknown[]) : normalizeList(fn.value) };
    case 'upsert': {
      if (type !== 'json') throw refuse(`applies to json (object or array of objects) fields${type ? `, not ${type}` : ''}`);
      if (typeof fn.submatch !== 'string' || fn.submatch === '') throw refuse("needs 'submatch', the property to set");
      const path = fn.submatch.split('.');
      if (path.some((k) => k === '' || UNSAFE_KEYS.has(k))) throw refuse(`'submatch' is not a property path: '${fn.submatch}'`);
      if (fn.value === undefined) throw refuse("needs 'value'");
      return { field: name, action: 'upsert', value: fn.value, submatch: path };
    }
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** Sets `path` in a copy of `obj` (made an object when it is none). */
function setPath(obj: unknown, path: string[], value: unknown): Record<string, unknown> {
  const copy: Record<string, unknown> = isObject(obj) ? { ...obj } : {};
  const [head, ...rest] = path;
  copy[head] = rest.length ? setPath(copy[head], rest, value) : value;
  return copy;
}

const getPath = (obj: unknown, path: string[]): unknown => path.reduce<unknown>((o, k) => (isObject(o) && Object.hasOwn(o, k) ? o[k] : undefined), obj);

/**
 * The value a field holds after an update. `upsert` on an object sets the `submatch` property; on an array
 * of objects it merges `value` into every element whose `submatch` property equals value's, or appends
 * `value` when none does (docs/api.md, Update functions).
 */
export function applyFieldUpdate(current: unknown, u: FieldUpdate): unknown {
  const result = updated(current, u);
  if (u.action !== 'incr' && JSON.stringify(result ?? null).length > MAX_VALUE_CHARS) {
    throw badRequest(`field '${u.field}': after ${u.action} it would be larger than ${MAX_VALUE_CHARS} bytes as JSON`);
  }
  return result;
}

function updated(current: unknown, u: FieldUpdate): unknown {
  switch (u.action) {
    case 'incr': {
      const result = (typeof current === 'number' ? current : 0) + u.by;
      if (!Number.isSafeInteger(result)) throw badRequest(`field '${u.field}': incr by ${u.by} leaves no safe integer`);
      return result;
    }
    case 'add': {
      const list = Array.isArray(current) ? [...current] : [];
      for (const v of u.values) if (u.kind === 'json' || !list.includes(v)) list.push(v);
      return list;
    }
    case 'delete':
      return Array.isArray(current) ? current.filter((have) => !u.values.some((v) => same(have, v))) : current;
    case 'upsert': {
      if (!Array.isArray(current)) return setPath(current, u.submatch, u.value);
      if (!isObject(u.value)) throw badRequest(`field '${u.field}': upsert into an array of objects takes an object value`);
      const key = getPath(u.value, u.submatch);
      const value = u.value;
      let found = false;
      const merged = current.map((el) => {
        if (!isObject(el) || !same(getPath(el, u.submatch), key)) return el;
        found = true;
        return { ...el, ...value };
      });
      return found ? merged : [...merged, value];
    }
  }
}
