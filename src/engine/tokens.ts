/**
 * API tokens: shown once at creation, stored as SHA-256 (a token is 192 random bits, so a fast hash
 * is enough), and checked against every stored hash in constant time.
 */
import { timingSafeEqual } from 'node:crypto';
import { badRequest } from '../core/errors.ts';
import { sha256Hex } from '../core/hashes.ts';
import { randomHex } from '../core/ids.ts';
import { isRole, ROLES, ROLE_SUMMARY, type Role } from '../core/roles.ts';
import type { TokenStore } from '../store/store.ts';
import { iso } from '../support/time.ts';

export const ENV_TOKEN_NAME = 'SALVO_TOKEN';

/**
 * A new token, answered once. Its role is `role`; without one, the store's first token is an admin (the
 * one that sets the rest up), and a later one must name its role, so no token gets everything by default.
 */
export async function createToken(store: Pick<TokenStore, 'insertToken' | 'listTokens'>, name: string, role?: string): Promise<{ token: string; role: Role }> {
  if (!/^[A-Za-z0-9_.@-]{1,64}$/.test(name) || name === ENV_TOKEN_NAME) {
    throw badRequest(`token name '${name}' must be 1 to 64 letters, digits, '_', '.', '@' or '-', and not ${ENV_TOKEN_NAME}`);
  }
  if (role !== undefined && !isRole(role)) throw badRequest(`field 'role' must be one of ${ROLES.join(', ')}`);
  let chosen: Role | undefined = role;
  if (chosen === undefined) {
    if ((await store.listTokens()).some((t) => t.name !== ENV_TOKEN_NAME)) throw badRequest(`field 'role' is required (${ROLES.join(', ')}): only the first token is admin by default`);
    chosen = 'admin';
  }
  const token = randomHex(24);
  await store.insertToken(name, sha256Hex(token), Date.now(), chosen);
  return { token, role: chosen };
}

/** tokens/list and `salvo token list`: each token's name, role and its times, never its hash. */
export async function listTokenViews(store: Pick<TokenStore, 'listTokens'>) {
  return (await store.listTokens()).map((t) => ({
    name: t.name,
    role: t.role,
    grants: ROLE_SUMMARY[t.role],
    created: iso(t.created_at),
    last_used: t.last_used_at === null ? null : iso(t.last_used_at),
  }));
}

/** The SALVO_TOKEN setting is a token like any other, kept under its own name. */
export async function ensureEnvToken(store: Pick<TokenStore, 'putToken'>, token: string): Promise<void> {
  await store.putToken(ENV_TOKEN_NAME, sha256Hex(token), Date.now());
}

/** How often a token's last use is written at most: one write a minute per token, not one per request. */
const LAST_USE_EVERY_MS = 60_000;

/**
 * Answers which token (by name, with its role) a presented token is, or null. Hashes are cached; a miss
 * reloads them (at most once a second) so a token created by `salvo token create` works at once. A
 * token's last use is recorded at most once a minute, without holding up the request.
 */
export class TokenVerifier {
  private hashes: { name: string; role: Role; hash: Buffer }[] = [];
  private readonly usedAt = new Map<string, number>();
  private loadedAt = 0;
  private loading: Promise<void> | null = null;

  constructor(
    private readonly store: Pick<TokenStore, 'listTokens' | 'touchToken'>,
    private readonly maxAgeMs = 10_000,
  ) {}

  private reload(): Promise<void> {
    this.loading ??= this.store
      .listTokens()
      .then((rows) => {
        this.hashes = rows.map((r) => ({ name: r.name, role: r.role, hash: Buffer.from(r.hash, 'hex') }));
        this.loadedAt = Date.now();
      })
      .finally(() => (this.loading = null));
    return this.loading;
  }

  private match(hash: Buffer): { name: string; role: Role } | null {
    let found: { name: string; role: Role } | null = null;
    for (const t of this.hashes) if (timingSafeEqual(t.hash, hash)) found = { name: t.name, role: t.role }; // no early exit
    return found;
  }

  async verify(token: string): Promise<{ name: string; role: Role } | null> {
    const age = Date.now() - this.loadedAt;
    if (age > this.maxAgeMs) await this.reload();
    const hash = Buffer.from(sha256Hex(token), 'hex');
    let found = this.match(hash);
    if (found === null && Date.now() - this.loadedAt >= 1000) {
      await this.reload();
      found = this.match(hash);
    }
    if (found !== null) this.noteUse(found.name);
    return found;
  }

  /** Forgets the cached hashes: a token added or revoked through the API counts at the next request in this process. */
  forget(): void {
    this.loadedAt = 0;
  }

  /** A failed write of the last use is not the request's problem: the next use a minute on writes it again. */
  private noteUse(name: string): void {
    const now = Date.now();
    if (now - (this.usedAt.get(name) ?? 0) < LAST_USE_EVERY_MS) return;
    this.usedAt.set(name, now);
    this.store.touchToken(name, now).catch(() => this.usedAt.delete(name));
  }
}
