/** API tokens: a name and the hash of the secret, never the secret itself. */
import type { ApiToken } from '../../core/types.ts';
import type { SqlDriver } from '../driver.ts';
import { uniqueName } from './rows.ts';

/** API tokens, kept as hashes. */
export interface TokenStore {
  insertToken(name: string, hash: string, now: number): Promise<void>;
  /** Sets the named token's hash, creating it if need be (the SALVO_TOKEN token). */
  putToken(name: string, hash: string, now: number): Promise<void>;
  listTokens(): Promise<ApiToken[]>;
  deleteToken(name: string): Promise<boolean>;
}

export function tokenQueries(db: SqlDriver): TokenStore {
  return {
    async insertToken(name: string, hash: string, now: number): Promise<void> {
      await uniqueName('token', name, () => db.run('INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?)', [name, hash, now]));
    },
    async putToken(name: string, hash: string, now: number): Promise<void> {
      await db.run(
        'INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET hash = excluded.hash, created_at = excluded.created_at',
        [name, hash, now],
      );
    },
    async listTokens(): Promise<ApiToken[]> {
      return db.all<ApiToken>('SELECT * FROM api_tokens ORDER BY id');
    },
    async deleteToken(name: string): Promise<boolean> {
      return (await db.run('DELETE FROM api_tokens WHERE name = ?', [name])) > 0;
    },
  };
}
