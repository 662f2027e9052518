/**
 * Versioned migrations: `NNN_name.sql` files per store, applied in order, each version once, all
 * pending ones in one transaction. Run at start-up and by `salvo migrate`.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { MIGRATION_LOCK } from './advisory-locks.ts';
import type { SqlDriver } from './driver.ts';

/**
 * Where a dialect's migrations are, beside the running module: src/store/<dialect>/migrations for the
 * TypeScript (tests), dist/migrations/<dialect> for the bundle (scripts/build.mjs copies them there), so an
 * installed package needs no src/.
 */
function migrationsDir(dialect: SqlDriver['dialect']): URL {
  const bundled = import.meta.url.endsWith('.mjs');
  return new URL(bundled ? `./migrations/${dialect}/` : `./${dialect}/migrations/`, import.meta.url);
}

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export function migrationsOf(dialect: SqlDriver['dialect']): Migration[] {
  const dir = migrationsDir(dialect);
  return readdirSync(dir)
    .filter((f) => /^\d+_.+\.sql$/.test(f))
    .sort()
    .map((f) => ({ version: parseInt(f, 10), name: f.replace(/\.sql$/, ''), sql: readFileSync(new URL(f, dir), 'utf8') }));
}

/** Applies what is pending; answers the names applied now. */
export async function migrate(driver: SqlDriver): Promise<string[]> {
  const time = driver.dialect === 'postgres' ? 'BIGINT' : 'INTEGER';
  await driver.exec(
    `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at ${time} NOT NULL)`,
  );
  return driver.transaction(async (tx) => {
    // Several processes may start at once against one PostgreSQL: one migrates, the others wait.
    if (tx.dialect === 'postgres') await tx.all(`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`);
    const done = new Set((await tx.all<{ version: number }>('SELECT version FROM schema_migrations')).map((r) => r.version));
    const applied: string[] = [];
    for (const m of migrationsOf(tx.dialect)) {
      if (done.has(m.version)) continue;
      await tx.exec(m.sql);
      await tx.run('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)', [m.version, m.name, Date.now()]);
      applied.push(m.name);
    }
    return applied;
  });
}
