/**
 * The Store: every read and write the product makes, async, the same on both adapters. It is the
 * intersection of one contract per area, each declared beside its SQL in queries/<area>.ts (written
 * once for SQLite and PostgreSQL alike), plus the lifecycle below. A consumer takes the areas it uses
 * (or a Pick of them), so its signature shows what it reads and writes.
 */
import { closeSync, mkdirSync, openSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { StoreUnavailable } from '../core/errors.ts';
import type { SqlDriver } from './driver.ts';
import { migrate } from './migrate.ts';
import { PgDriver } from './postgres/driver.ts';
import { attachmentFileQueries, type AttachmentFileStore } from './queries/attachment-files.ts';
import { campaignQueries, type CampaignStore } from './queries/campaigns.ts';
import { catalogQueries, type CatalogStore } from './queries/catalog.ts';
import { dedupQueries, type DedupStore } from './queries/dedup.ts';
import { engagementQueries, type EngagementStore } from './queries/engagement.ts';
import { feedbackQueries, type FeedbackStore } from './queries/feedback.ts';
import { erasureQueries, type ErasureStore } from './queries/erasures.ts';
import { launchQueries, type LaunchStore } from './queries/launches.ts';
import { messageQueries, type MessageStore } from './queries/messages.ts';
import { receiptQueries, type ReceiptStore } from './queries/receipts.ts';
import { outboxQueries, type OutboxStore } from './queries/outbox.ts';
import { matchQueries, type MatchStore } from './queries/profile-match.ts';
import { profileQueries, type ProfileStore } from './queries/profiles.ts';
import { retentionQueries, type RetentionStore } from './queries/retention.ts';
import { sendLimitQueries, type SendLimitStore } from './queries/send-limits.ts';
import { taskQueries, type TaskStore } from './queries/tasks.ts';
import { tokenQueries, type TokenStore } from './queries/tokens.ts';
import { webhookQueries, type WebhookStore } from './queries/webhooks.ts';
import { SqliteDriver, type SqliteOptions } from './sqlite/driver.ts';

export type { AttachmentFileStore, CampaignStore, CatalogStore, DedupStore, EngagementStore, ErasureStore, FeedbackStore, LaunchStore, MatchStore, MessageStore, OutboxStore, ProfileStore, ReceiptStore, RetentionStore, SendLimitStore, TaskStore, TokenStore, WebhookStore };

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
  /**
   * The store's size on disk, for /metrics: SQLite's database file (page_count * page_size) and its WAL;
   * PostgreSQL's tables of this schema with their indexes and TOAST (pg_total_relation_size).
   */
  storeBytes(): Promise<number>;
  /**
   * After an erasure, so that the erased rows' old contents leave the disk: SQLite truncates its WAL (freed
   * pages are zeroed already: secure_delete). PostgreSQL does nothing here: dead tuples stay in the table files
   * until VACUUM reuses them (docs/operations.md). Answers whether nothing is left to do.
   */
  truncateLog(): Promise<boolean>;
  close(): Promise<void>;
}

export type Store = CatalogStore &
  ProfileStore &
  MatchStore &
  CampaignStore &
  TokenStore &
  LaunchStore &
  AttachmentFileStore &
  MessageStore &
  ReceiptStore &
  OutboxStore &
  TaskStore &
  DedupStore &
  WebhookStore &
  ErasureStore &
  EngagementStore &
  FeedbackStore &
  RetentionStore &
  SendLimitStore &
  StoreLifecycle;

/** A file's size, 0 when it is not there (a WAL after a truncating checkpoint, or before the first write). */
function fileBytes(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

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
    ...matchQueries(driver),
    ...campaignQueries(driver),
    ...tokenQueries(driver),
    ...launchQueries(driver),
    ...attachmentFileQueries(driver),
    ...messageQueries(driver),
    ...receiptQueries(driver),
    ...outboxQueries(driver),
    ...taskQueries(driver),
    ...dedupQueries(driver),
    ...webhookQueries(driver),
    ...erasureQueries(driver),
    ...engagementQueries(driver),
    ...feedbackQueries(driver),
    ...retentionQueries(driver),
    ...sendLimitQueries(driver),
    transaction: (fn) => driver.transaction((tx) => fn(storeOn(tx))),
    async probeWrite() {
      await driver.run('UPDATE schema_migrations SET applied_at = applied_at WHERE version = (SELECT MIN(version) FROM schema_migrations)');
    },
    async storeBytes() {
      if (driver instanceof SqliteDriver) {
        const r = await driver.get<{ bytes: number }>('SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()');
        return Number(r!.bytes) + fileBytes(`${driver.file}-wal`);
      }
      const r = await driver.get<{ bytes: string }>(
        `SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) AS bytes FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')`,
      );
      return Number(r!.bytes);
    },
    truncateLog: async () => (driver instanceof SqliteDriver ? driver.truncateWal() : true),
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
  /** PostgreSQL only: the most connections the pool opens (SALVO_PG_POOL). */
  pgPool?: number;
  /** SQLite only: WAL checkpoints in a thread of their own (serve, worker), failures reported here. */
  checkpointInThread?: SqliteOptions['checkpointInThread'];
}

/** What the start-up line and errors call the configured store: `SQLite at <file>`, `PostgreSQL at host:port/db`. */
/** The embedded store's database file in a data directory. */
export const sqliteFile = (dataDir: string): string => path.join(dataDir, 'salvo.db');

export function storeWhere(o: Pick<StoreOptions, 'dataDir' | 'databaseUrl'>): string {
  if (!o.databaseUrl) return `SQLite at ${sqliteFile(o.dataDir)}`;
  const u = new URL(o.databaseUrl);
  return `PostgreSQL at ${u.hostname}:${u.port || 5432}${u.pathname}`;
}

/** The data directory cannot hold the SQLite store; the message says why, for the setting to be named. */
export class DataDirError extends Error {}

/**
 * Makes the data directory if missing and proves it writable with a probe file. Each missing level is
 * made on its own: Node 20's recursive mkdirSync never returns under /proc (it retries ENOENT forever).
 */
function ensureDataDir(dir: string): void {
  const missing: string[] = [];
  let at = path.resolve(dir);
  for (;;) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(at);
    } catch (e) {
      const parent = path.dirname(at);
      const code = (e as NodeJS.ErrnoException).code;
      // ENOTDIR: a level above is a file; walking up finds it and says so.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || parent === at) throw new DataDirError(`${dir} cannot be read (${code})`);
      missing.unshift(at);
      at = parent;
      continue;
    }
    if (!st.isDirectory()) throw new DataDirError(`${dir} is not a directory (${at} is a file)`);
    break;
  }
  for (const d of missing) {
    try {
      mkdirSync(d);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw new DataDirError(`${dir} cannot be created (${(e as NodeJS.ErrnoException).code} at ${d})`);
    }
  }
  const probe = path.join(dir, `.salvo-write-test-${process.pid}`);
  try {
    closeSync(openSync(probe, 'w'));
    rmSync(probe, { force: true });
  } catch (e) {
    throw new DataDirError(`${dir} is not writable (${(e as NodeJS.ErrnoException).code})`);
  }
}

/**
 * Whether the PostgreSQL server answers a query within `timeoutMs`: start-up asks before anything
 * waits on it, so an unreachable server is one clear error in seconds, not a hang.
 */
export async function reachPostgres(url: string, timeoutMs: number): Promise<void> {
  const driver = PgDriver.connect(url, { max: 1, retryMs: 0 });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new StoreUnavailable(`no answer within ${timeoutMs / 1000} s`)), timeoutMs);
  });
  try {
    await Promise.race([driver.get('SELECT 1'), deadline]);
  } finally {
    clearTimeout(timer);
    // Not awaited: a connect still pending would hold the caller, which is about to report and exit.
    driver.close().catch(() => {});
  }
}

/** Opens the configured store and brings its schema up to date. */
export async function openStore(o: StoreOptions): Promise<{ store: Store; migrated: string[]; where: string }> {
  let driver: SqlDriver;
  const where = storeWhere(o);
  if (o.databaseUrl) {
    driver = PgDriver.connect(o.databaseUrl, { searchPath: o.searchPath, retryMs: o.retryMs, max: o.pgPool });
  } else {
    ensureDataDir(o.dataDir);
    driver = new SqliteDriver(sqliteFile(o.dataDir), { retryMs: o.retryMs, checkpointInThread: o.checkpointInThread });
  }
  try {
    const migrated = await migrate(driver);
    return { store: storeOn(driver), migrated, where };
  } catch (e) {
    await driver.close();
    throw e;
  }
}
