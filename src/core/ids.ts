import { randomBytes } from 'node:crypto';

/**
 * A 24-hex profile id shaped like a MongoDB ObjectId (Altcraft's profile ids are ObjectIds): four
 * bytes of seconds, so ids sort roughly by creation, then eight random bytes.
 */
export function newProfileId(now = Date.now()): string {
  const time = Math.floor(now / 1000).toString(16).padStart(8, '0').slice(-8);
  return time + randomBytes(8).toString('hex');
}

export const PROFILE_ID = /^[0-9a-f]{24}$/;

/** At least 128 random bits, for unguessable keys (tokens, v1.0 links). */
export function randomHex(bytes = 24): string {
  return randomBytes(bytes).toString('hex');
}
