/**
 * The Store: every read and write the product makes, async, the same on both adapters. It is the
 * intersection of one contract per area, each declared beside its SQL in queries/<area>.ts (written
 * once for SQLite and PostgreSQL alike), plus the lifecycle below. A consumer takes the areas it uses
 * (or a Pick of them), so its signature shows what it reads and writes.
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { SqlDriver } from './driver.ts';
import { migrate } from './migrate.ts';
import { PgDriver } from './postgres/driver.ts';
import { campaignQueries, type CampaignStore } from './queries/campaigns.ts';
import { catalogQueries, type CatalogStore } from './queries/catalog.ts';
import { dedupQueries, type DedupStore } from './queries/dedup.ts';
import { launchQueries, type LaunchStore } from './queries/launches.ts';
import { messageQueries, type MessageStore } from './queries/messages.ts';
import { outboxQueries, type OutboxStore } from './queries/outbox.ts';
import { profileQueries, type ProfileStore } from './queries/profiles.ts';
import { taskQueries, type TaskStore } from './queries/tasks.ts';
import { tokenQueries, type TokenStore } from './queries/tokens.ts';
import { SqliteDriver } from './sqlite/driver.ts';

export type { CampaignStore, CatalogStore, DedupStore, LaunchStore, MessageStore, OutboxStore, ProfileStore, TaskStore, TokenStore };

/** Runs fn with a store of areas S whose every call is part of one transaction. */
export interface Transactions<S> {
  transaction<T>(fn: (tx: S) => Promise<T>): Promise<T>;
}

/** What the store is as a whole, beyond its areas. */
export interface StoreLifecycle extends Transactions<Store> {
  readonly dialect: SqlDriver['dialect'];
  /**
   * /ready: proves the store takes a write, without growing anything: rewrites one row of
   * schema_migrations with its own value (a real write, so a locked database or a full disk fails it).
   */
  probeWrite(): Promise<void>;
  close(): Promise<void>;
}

export type Store = CatalogStore &
  ProfileStore &
  CampaignStore &
  TokenStore &
  LaunchStore &
  MessageStore &
  OutboxStore &
  TaskStore &
  DedupStore &
  StoreLifecycle;

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
    async probeWrite() {
      await driver.run('UPDATE schema_migrations SET applied_at = applied_at WHERE version = (SELECT MIN(version) FROM schema_migrations)');
    },
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
