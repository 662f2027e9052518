import { randomBytes } from 'node:crypto';
import { badRequest } from './errors.ts';

/** The largest id of a database, resource, template, campaign or subscription's resource: 32-bit, as in Altcraft. */
export const MAX_ID = 2_147_483_647;

export const isId = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_ID;

/** An id as Altcraft clients send it, a number or a numeric string; out of range is refused naming the field. */
export function toId(v: number | string, name = 'id'): number {
  const n = Number(v);
  if (!isId(n)) throw badRequest(`field '${name}' is out of range (1 to ${MAX_ID})`);
  return n;
}

/**
 * A 24-hex profile id shaped like a MongoDB ObjectId (Altcraft's profile ids are ObjectIds): four
 * bytes of seconds, so ids sort roughly by creation, then eight random bytes.
 */
export function newProfileId(now = Date.now()): string {
  const time = Math.floor(now / 1000).toString(16).padStart(8, '0').slice(-8);
  return time + pooledRandom(8).toString('hex');
}

/**
 * Random bytes from a pool refilled 4 KB at a time: a call to randomBytes each costs more than the
 * rest of making a profile in a bulk import. For ids, which are unique, not secret (tokens and link
 * keys use randomHex).
 */
let pool = Buffer.alloc(0);
let used = 0;
function pooledRandom(n: number): Buffer {
  if (used + n > pool.length) {
    pool = randomBytes(4096);
    used = 0;
  }
  used += n;
  return pool.subarray(used - n, used);
}

export const PROFILE_ID = /^[0-9a-f]{24}$/;

/** At least 128 random bits, for unguessable keys (tokens, v1.0 links). */
export function randomHex(bytes = 24): string {
  return randomBytes(bytes).toString('hex');
}
