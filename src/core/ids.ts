import { randomBytes } from 'node:crypto';

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
