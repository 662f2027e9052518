/** API tokens: a name and the hash of the secret, never the secret itself. */
import type { Role } from '../../core/roles.ts';
import type { ApiToken } from '../../core/types.ts';
import type { SqlDriver } from '../driver.ts';
import { uniqueName } from './rows.ts';

/** API tokens, kept as hashes. */
export interface TokenStore {
  insertToken(name: string, hash: string, now: number, role?: Role): Promise<void>;
  /** Sets the named token's hash, creating it if need be (the SALVO_TOKEN token). */
  putToken(name: string, hash: string, now: number): Promise<void>;
  listTokens(): Promise<ApiToken[]>;
  deleteToken(name: string): Promise<boolean>;
  /** Records a token's last use. */
  touchToken(name: string, now: number): Promise<void>;
}

export function tokenQueries(db: SqlDriver): TokenStore {
  return {
    async insertToken(name: string, hash: string, now: number, role: Role = 'admin'): Promise<void> {
      await uniqueName('token', name, () => db.run('INSERT INTO api_tokens (name, hash, role, created_at) VALUES (?, ?, ?, ?)', [name, hash, role, now]));
    },
    async putToken(name: string, hash: string, now: number): Promise<void> {
      await db.run(
        'INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at',
        [name, hash, now],
      );
    },
    async listTokens(): Promise<ApiToken[]> {
      const rows = await db.all<ApiToken>('SELECT * FROM api_tokens ORDER BY id');
      return rows.map((r) => ({ ...r, created_at: Number(r.created_at), last_used_at: r.last_used_at === null ? null : Number(r.last_used_at) }));
    },
    async touchToken(name: string, now: number): Promise<void> {
      await db.run('UPDATE api_tokens SET last_used_at = ? WHERE name = ?', [now, name]);
    },
    async deleteToken(name: string): Promise<boolean> {
      return (await db.run('DELETE FROM api_tokens WHERE name = ?', [name])) > 0;
    },
  };
}
