/**
 * The Store contract: every read and write the product makes, async, the same on both adapters.
 * The SQL lives in queries/*.ts, written once for SQLite and PostgreSQL alike.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { SqlDriver } from './driver.ts';
import { migrate } from './migrate.ts';
import { PgDriver } from './postgres/driver.ts';
import { campaignQueries } from './queries/campaigns.ts';
import { catalogQueries } from './queries/catalog.ts';
import { dedupQueries } from './queries/dedup.ts';
import { launchQueries } from './queries/launches.ts';
import { messageQueries } from './queries/messages.ts';
import { outboxQueries } from './queries/outbox.ts';
import { profileQueries } from './queries/profiles.ts';
import { taskQueries } from './queries/tasks.ts';
import { tokenQueries } from './queries/tokens.ts';
import { SqliteDriver } from './sqlite/driver.ts';

export type Store = ReturnType<typeof catalogQueries> &
  ReturnType<typeof profileQueries> &
  ReturnType<typeof campaignQueries> &
  ReturnType<typeof tokenQueries> &
  ReturnType<typeof launchQueries> &
  ReturnType<typeof messageQueries> &
  ReturnType<typeof outboxQueries> &
  ReturnType<typeof taskQueries> &
  ReturnType<typeof dedupQueries> & {
    readonly dialect: SqlDriver['dialect'];
    /** Runs fn with a Store whose every call is part of one transaction. */
    transaction<T>(fn: (tx: Store) => Promise<T>): Promise<T>;
    close(): Promise<void>;
  };

/** The Store over each transaction driver is made once: a transaction per request is the hot path. */
const stores = new WeakMap<SqlDriver, Store>();

function storeOn(driver: SqlDriver): Store {
  let store = stores.get(driver);
  if (!store) {
    store = makeStore(driver);
    stores.set(driver, store);
  }
  return store;
}

/** The driver under a Store, for operations and fault tests that must reach the engine itself. */
const drivers = new WeakMap<Store, SqlDriver>();
export const driverOf = (store: Store): SqlDriver => drivers.get(store)!;

function makeStore(driver: SqlDriver): Store {
  const store: Store = {
    dialect: driver.dialect,
    ...catalogQueries(driver),
    ...profileQueries(driver),
    ...campaignQueries(driver),
    ...tokenQueries(driver),
    ...launchQueries(driver),
    ...messageQueries(driver),
    ...outboxQueries(driver),
    ...taskQueries(driver),
    ...dedupQueries(driver),
    transaction: (fn) => driver.transaction((tx) => fn(storeOn(tx))),
    close: () => driver.close(),
  };
  drivers.set(store, driver);
  return store;
}

export interface StoreOptions {
  dataDir: string;
  databaseUrl: string | null;
  /** PostgreSQL only: the schema to use (tests give each run its own). */
  searchPath?: string;
  /** How long a call waits for a locked or unreachable database before it fails with StoreUnavailable (SALVO_STORE_RETRY_MS). */
  retryMs?: number;
}

/** Opens the configured store and brings its schema up to date. */
export async function openStore(o: StoreOptions): Promise<{ store: Store; migrated: string[]; where: string }> {
  let driver: SqlDriver;
  let where: string;
  if (o.databaseUrl) {
    driver = PgDriver.connect(o.databaseUrl, { searchPath: o.searchPath, retryMs: o.retryMs });
    const u = new URL(o.databaseUrl);
    where = `PostgreSQL at ${u.hostname}:${u.port || 5432}${u.pathname}`;
  } else {
    mkdirSync(o.dataDir, { recursive: true });
    const file = path.join(o.dataDir, 'salvo.db');
    driver = new SqliteDriver(file, { retryMs: o.retryMs });
    where = `SQLite at ${file}`;
  }
  try {
    const migrated = await migrate(driver);
    return { store: storeOn(driver), migrated, where };
  } catch (e) {
    await driver.close();
    throw e;
  }
}
