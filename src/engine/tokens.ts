/**
 * API tokens: shown once at creation, stored as SHA-256 (a token is 192 random bits, so a fast hash
 * is enough), and checked against every stored hash in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { badRequest } from '../core/errors.ts';
import { sha256Hex } from '../core/hashes.ts';
import { randomHex } from '../core/ids.ts';
import type { TokenStore } from '../store/store.ts';

export const ENV_TOKEN_NAME = 'SALVO_TOKEN';

export async function createToken(store: Pick<TokenStore, 'insertToken'>, name: string): Promise<string> {
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name) || name === ENV_TOKEN_NAME) {
    throw badRequest(`token name '${name}' must be 1 to 64 letters, digits, '_', '.', '@' or '-', and not ${ENV_TOKEN_NAME}`);
  }
  const token = randomHex(24);
  await store.insertToken(name, sha256Hex(token), Date.now());
  return token;
}

/** The SALVO_TOKEN setting is a token like any other, kept under its own name. */
export async function ensureEnvToken(store: Pick<TokenStore, 'putToken'>, token: string): Promise<void> {
  await store.putToken(ENV_TOKEN_NAME, sha256Hex(token), Date.now());
}

/**
 * Answers which token (by name) a presented token is, or null. Hashes are cached; a miss reloads
 * them (at most once a second) so a token created by `salvo token create` works at once.
 */
export class TokenVerifier {
  private hashes: { name: string; hash: Buffer }[] = [];
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<TokenStore, 'listTokens'>,
    private readonly maxAgeMs = 10_000,
  ) {}

  private reload(): Promise<void> {
    this.loading ??= this.store
      .listTokens()
      .then((rows) => {
        this.hashes = rows.map((r) => ({ name: r.name, hash: Buffer.from(r.hash, 'hex') }));
        this.loadedAt = Date.now();
      })
      .finally(() => (this.loading = null));
    return this.loading;
  }

  private match(hash: Buffer): string | null {
    let found: string | null = null;
    for (const t of this.hashes) if (timingSafeEqual(t.hash, hash)) found = t.name; // no early exit
    return found;
  }

  async verify(token: string): Promise<string | null> {
    const age = Date.now() - this.loadedAt;
    if (age > this.maxAgeMs) await this.reload();
    const hash = Buffer.from(sha256Hex(token), 'hex');
    const name = this.match(hash);
    if (name !== null || Date.now() - this.loadedAt < 1000) return name;
    await this.reload();
    return this.match(hash);
  }
}
