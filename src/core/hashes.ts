import * as crypto from 'node:crypto';
import xxhash from 'xxhash-wasm';

// The WASM module compiles once, when this module is first imported.
const { h64ToString } = await xxhash();

/** The key both hashes are of: Altcraft hashes the trimmed, lowercased email. */
const emailKey = (email: string) => email.trim().toLowerCase();

/** crypto.hash, the one-shot form (Node 20.12 on): a Hash object per call costs more than an email's digest. */
const oneShot = (crypto as { hash?: (algorithm: string, data: string) => string }).hash;

export const md5Hex = oneShot ? (email: string) => oneShot('md5', emailKey(email)) : (email: string) => crypto.createHash('md5').update(emailKey(email)).digest('hex');

/** XXH64 with seed 0, 16 lowercase hex digits. */
export const xxh64Hex = (email: string) => h64ToString(emailKey(email));

export const sha256Hex = (text: string) => crypto.createHash('sha256').update(text).digest('hex');
