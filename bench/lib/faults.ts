/**
 * Faults the soak injects from outside Salvo, as an operator's environment would: another connection
 * holding SQLite's write lock, PostgreSQL cutting Salvo's connections. (The SMTP outage is the sink's
 * `refuse`; the killed mail thread is a poison message, sent through the API.)
 */
import Database from 'better-sqlite3';
import postgres from 'postgres';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Holds `BEGIN IMMEDIATE` on the SQLite file for `ms`, from a connection of the bench process. It
 * never waits inside SQLite (timeout 0: a busy wait would stall the bench's own event loop); it tries
 * again every few milliseconds until Salvo is between transactions. Answers when the lock was taken
 * and released (performance.now()).
 */
export async function holdSqliteWriteLock(file: string, ms: number): Promise<{ start: number; end: number; tries: number }> {
  const db = new Database(file, { timeout: 0 });
  let tries = 0;
  try {
    for (;;) {
      tries++;
      try {
        db.exec('BEGIN IMMEDIATE');
        break;
      } catch (e) {
        if ((e as { code?: string }).code !== 'SQLITE_BUSY') throw e;
        await sleep(2);
      }
    }
    const start = performance.now();
    await sleep(ms);
    db.exec('ROLLBACK');
    return { start, end: performance.now(), tries };
  } finally {
    db.close();
  }
}

/**
 * Terminates Salvo's connections (application_name 'salvo') to the database `url` names. The soak
 * gives Salvo a database of its own, so no other Salvo sharing the server (a test run) is touched.
 * Answers the application names of what was cut.
 */
export async function cutPostgresConnections(url: string): Promise<string[]> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ application_name: string }[]>`
      SELECT application_name, pg_terminate_backend(pid) AS cut FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND application_name = 'salvo'`;
    return rows.map((r) => r.application_name || '(none)');
  } finally {
    await sql.end();
  }
}

/** A database of the soak's own on the server `url` points at; `drop` removes it, whoever is still connected. */
export async function ownPostgresDatabase(url: string, name: string): Promise<{ url: string; drop(): Promise<void> }> {
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await admin.unsafe(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    async drop() {
      const a = postgres(url, { max: 1, onnotice: () => {} });
      await a.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await a.end();
    },
  };
}
