/**
 * better-sqlite3 is synchronous, so reads outside a transaction simply run. A transaction spans
 * awaits, though, and nothing else may touch the connection meanwhile: other callers wait for it, in
 * the order they came.
 *
 * Group commit: the transactions (and lone writes) asked for in one turn of the event loop run one
 * after another inside a single BEGIN ... COMMIT, each in a savepoint of its own, so that one that
 * fails is undone alone (one alone in its group needs none: the transaction is rolled back). Every
 * caller is answered after that COMMIT, so an answer still means durable; but a hundred concurrent launches cost one commit instead of a hundred (the commit, which
 * writes the WAL, was the largest single cost of a launch).
 *
 * Another process may hold the database's write lock (a backup, a sqlite3 shell, a second Salvo).
 * SQLite's own busy wait is synchronous and would freeze the event loop, so it is kept to a few
 * milliseconds; the driver waits for the lock asynchronously instead, with backoff, for up to
 * `retryMs`, and then answers StoreUnavailable. A group waiting for the lock stays open, so writes
 * asked for meanwhile join it rather than queue behind it.
 */
import Database from 'better-sqlite3';
import { classifyStoreError, engineCode, StoreUnavailable, UniqueViolation, type Param, type Row, type SqlDriver } from '../driver.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { BACKSTOP_PAGES, WalCheckpointer } from './checkpointer.ts';

type Statement = Database.Statement<unknown[], unknown>;

interface Job {
  fn: (tx: SqlDriver) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  /** When it was asked for: it waits for a held lock at most retryMs from then. */
  since: number;
}

export interface SqliteOptions {
  /** How long a call waits, in all, for a lock another process holds before it fails with StoreUnavailable. */
  retryMs?: number;
  /**
   * Checkpoint the WAL from a thread of its own, so that no commit stalls the event loop for one
   * (checkpointer.ts); its failures are reported here. Without it (one-off commands) SQLite
   * checkpoints inside commits.
   */
  checkpointInThread?: { onError: (err: Error) => void };
}

/** SQLite's synchronous busy wait, per attempt: short, so that a held lock never stalls the event loop. */
const BUSY_TIMEOUT_MS = 20;
/** Pauses between attempts at a held lock: 5 ms doubling to 100 ms, with jitter so processes do not march in step. */
const lockBackoff = (attempt: number) => Math.min(100, 5 * 2 ** attempt) * (0.5 + Math.random() / 2);
const isLocked = (e: unknown) => /^SQLITE_(BUSY|LOCKED)/.test(engineCode(e) ?? '');
const lockedOut = (e: unknown, waitedMs: number) =>
  new StoreUnavailable(`database is locked by another process; waited ${Math.round(waitedMs / 100) / 10} s`, 2, { cause: e });

const bind = (params: Param[]) => params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));

function translate(e: unknown): never {
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new UniqueViolation((e as Error).message);
  throw classifyStoreError(e);
}

/**
 * Builds a statement's row objects from its values in column order: one object literal of fixed shape.
 * better-sqlite3 makes each row by setting its columns one by one through V8's API, each a slow property
 * add with a map transition: about 20k instructions a row of 10-13 columns, a tenth of an accepted
 * trigger's main-thread instructions (docs/performance-log.md, 2026-12-08 "rows"). A literal is
 * allocated from one boilerplate. Keys as JSON strings (any column name is safe); a repeated name keeps
 * the last value, as better-sqlite3's rows do.
 */
function rowBuilder(names: string[]): ((values: unknown[]) => Row) | null {
  // `__proto__` in a literal would set the prototype rather than a key: such a statement keeps the driver's rows.
  if (names.includes('__proto__')) return null;
  return new Function('v', `return {${names.map((n, i) => `${JSON.stringify(n)}: v[${i}]`).join(', ')}};`) as (values: unknown[]) => Row;
}

/** A prepared statement; one that answers rows gives them as value lists (raw) and `row` builds each. */
interface Prepared {
  statement: Statement;
  row: ((values: unknown[]) => Row) | null;
}

class Connection {
  private readonly statements = new Map<string, Prepared>();
  constructor(readonly db: Database.Database) {}

  /** Whether a statement only reads (better-sqlite3 knows from SQLite). */
  readonly(sql: string): boolean {
    return this.prepared(sql).statement.readonly;
  }

  prepare(sql: string): Statement {
    return this.prepared(sql).statement;
  }

  private prepared(sql: string): Prepared {
    let p = this.statements.get(sql);
    if (!p) {
      const statement = this.db.prepare(sql);
      const row = statement.reader ? rowBuilder(statement.columns().map((c) => c.name)) : null;
      if (row) statement.raw(true);
      p = { statement, row };
      this.statements.set(sql, p);
    }
    return p;
  }
  all<T>(sql: string, params: Param[]): T[] {
    try {
      const { statement, row } = this.prepared(sql);
      const rows = statement.all(...bind(params)) as unknown[];
      if (row) for (let i = 0; i < rows.length; i++) rows[i] = row(rows[i] as unknown[]);
      return rows as T[];
    } catch (e) {
      translate(e);
    }
  }
  run(sql: string, params: Param[]): number {
    try {
      return this.prepare(sql).run(...bind(params)).changes;
    } catch (e) {
      translate(e);
    }
  }
  insertId(sql: string, params: Param[]): number {
    try {
      return Number(this.prepare(sql).run(...bind(params)).lastInsertRowid);
    } catch (e) {
      translate(e);
    }
  }
  runEach(sql: string, paramLists: Param[][]): number {
    const statement = this.prepare(sql);
    let changed = 0;
    try {
      for (const params of paramLists) {
        // Converted in place (as `bind` converts): the lists are the caller's to give up, a copy per row was garbage.
        for (let i = 0; i < params.length; i++) {
          const p = params[i];
          if (p === undefined) params[i] = null;
          else if (typeof p === 'boolean') params[i] = p ? 1 : 0;
        }
        changed += statement.run(...params).changes;
      }
    } catch (e) {
      translate(e);
    }
    return changed;
  }
}

/** The driver as seen inside a transaction: straight to the connection, savepoints for nesting. */
class SqliteTx implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  private depth = 0;
  constructor(private readonly conn: Connection) {}
  async all<T = Row>(sql: string, params: Param[] = []) {
    return this.conn.all<T>(sql, params);
  }
  async get<T = Row>(sql: string, params: Param[] = []) {
    return this.conn.all<T>(sql, params)[0];
  }
  async run(sql: string, params: Param[] = []) {
    return this.conn.run(sql, params);
  }
  async runEach(sql: string, paramLists: Param[][]) {
    return this.conn.runEach(sql, paramLists);
  }
  async insertId(sql: string, params: Param[]) {
    return this.conn.insertId(sql, params);
  }
  async exec(script: string) {
    try {
      this.conn.db.exec(script);
    } catch (e) {
      translate(e);
    }
  }
  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    const name = `sp${++this.depth}`;
    this.conn.db.exec(`SAVEPOINT ${name}`);
    try {
      const result = await fn(this);
      this.conn.db.exec(`RELEASE ${name}`);
      return result;
    } catch (e) {
      this.conn.db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      throw e;
    } finally {
      this.depth--;
    }
  }
  async close() {}
}

export class SqliteDriver implements SqlDriver {
  readonly dialect = 'sqlite' as const;
  private readonly conn: Connection;
  /** A transaction holds the connection. */
  private held = false;
  /** Callers waiting for it, served first come first served (a stream of transactions cannot starve a read). */
  private readonly waiting: { resolve: () => void; reject: (e: Error) => void }[] = [];
  /** Set by close(): what every call made after it, or still waiting at it, is refused with. */
  private closed: StoreUnavailable | null = null;

  private readonly retryMs: number;
  private readonly checkpointer: WalCheckpointer | null = null;

  /** `file`: the database file (its WAL is `${file}-wal`). */
  constructor(
    readonly file: string,
    options: SqliteOptions = {},
  ) {
    this.retryMs = options.retryMs ?? 2000;
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    // WAL with synchronous=NORMAL: a commit survives a killed process; only power loss can undo the last ones.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    // 8 MB of page cache (better-sqlite3's default is 16): measured no slower on a million profiles, and
    // resident memory stays inside the fan-out budget (docs/performance-log.md).
    db.pragma('cache_size = -8000');
    // Deleted content is overwritten with zeros, not left in free pages and slack: an erased profile
    // (profiles/delete) must not stay readable in the file. Costs writes of deleted pages (docs/operations.md).
    db.pragma('secure_delete = ON');
    if (options.checkpointInThread) {
      db.pragma(`wal_autocheckpoint = ${BACKSTOP_PAGES}`);
      const { onError } = options.checkpointInThread;
      // Its thread gone, this connection checkpoints as SQLite does by default.
      const inline = () => {
        try {
          if (db.open) db.pragma('wal_autocheckpoint = 1000');
        } catch (err) {
          onError(err as Error);
        }
      };
      this.checkpointer = new WalCheckpointer(file, { onError, onExit: inline });
    }
    this.conn = new Connection(db);
    this.tx = new SqliteTx(this.conn);
    this.savepoint = db.prepare('SAVEPOINT job');
    this.releaseSavepoint = db.prepare('RELEASE job');
  }

  /** The one transaction driver: jobs run one at a time, so they share it (and the Store made over it). */
  private readonly tx: SqliteTx;
  private readonly savepoint: Database.Statement;
  private readonly releaseSavepoint: Database.Statement;

  private acquire(): Promise<void> {
    if (this.closed) return Promise.reject(this.closed);
    if (!this.held && this.waiting.length === 0) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  /** Hands the connection to the next waiter, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next.resolve();
    else this.held = false;
  }

  /** Runs one read: at once when the connection is free, else in its turn; a held lock is waited for without blocking. */
  private async read<T>(fn: () => T): Promise<T> {
    const since = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        if (this.closed) throw this.closed;
        if (!this.held && this.waiting.length === 0) return fn();
        await this.acquire();
        try {
          return fn();
        } finally {
          this.release();
        }
      } catch (e) {
        if (!isLocked(e)) throw e;
        if (Date.now() - since >= this.retryMs) throw lockedOut(e, Date.now() - since);
        await sleep(lockBackoff(attempt));
      }
    }
  }

  async all<T = Row>(sql: string, params: Param[] = []): Promise<T[]> {
    if (!this.conn.readonly(sql)) return this.transaction(async () => this.conn.all<T>(sql, params));
    return this.read(() => this.conn.all<T>(sql, params));
  }
  async get<T = Row>(sql: string, params: Param[] = []) {
    return (await this.all<T>(sql, params))[0];
  }
  run(sql: string, params: Param[] = []) {
    return this.transaction(async () => this.conn.run(sql, params));
  }
  runEach(sql: string, paramLists: Param[][]) {
    return this.transaction(async () => this.conn.runEach(sql, paramLists));
  }
  insertId(sql: string, params: Param[]) {
    return this.transaction(async () => this.conn.insertId(sql, params));
  }
  exec(script: string) {
    return this.read(() => {
      try {
        this.conn.db.exec(script);
      } catch (e) {
        translate(e);
      }
    });
  }

  private group: Job[] | null = null;

  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      if (!this.group) {
        this.group = [];
        setImmediate(() => void this.commitGroup());
      }
      this.group.push({ fn, resolve, reject, since: Date.now() } as Job);
    });
  }

  /**
   * Takes the connection and the database's write lock for the open group. While another process
   * holds the lock, the connection is let go (reads go on) and the group stays open; jobs that have
   * waited retryMs are failed with StoreUnavailable. Answers false when no job is left to run.
   */
  private async beginGroup(): Promise<boolean> {
    for (let attempt = 0; ; attempt++) {
      await this.acquire();
      try {
        // A rollback that failed (I/O error) may have left the last transaction open: end it first.
        if (this.conn.db.inTransaction) this.conn.db.exec('ROLLBACK');
        // IMMEDIATE takes the write lock now, so another process cannot make this transaction fail later.
        this.conn.db.exec('BEGIN IMMEDIATE');
        return true;
      } catch (e) {
        this.release();
        const group = this.group!;
        const now = Date.now();
        const failed = isLocked(e) ? group.filter((j) => now - j.since >= this.retryMs) : group.slice();
        for (const job of failed) {
          group.splice(group.indexOf(job), 1);
          job.reject(isLocked(e) ? lockedOut(e, now - job.since) : classifyStoreError(e));
        }
        if (group.length === 0) {
          this.group = null;
          return false;
        }
        await sleep(lockBackoff(attempt));
      }
    }
  }

  private async commitGroup(): Promise<void> {
    try {
      if (!(await this.beginGroup())) return;
    } catch (closed) {
      // The store was closed while the group waited for the connection: its jobs are refused, not left waiting.
      for (const job of this.group?.splice(0) ?? []) job.reject(closed);
      this.group = null;
      return;
    }
    const jobs = this.group!;
    this.group = null;
    const db = this.conn.db;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    let groupError: unknown = null;
    // A job alone in its group runs without a savepoint: its failure rolls the transaction back. Inside a
    // savepoint SQLite first copies each page a job changes to a sub-journal (a temporary file past
    // 64 KB): some 250 pages for an import of 1,000 profiles (docs/performance-log.md, 2026-12-08).
    const alone = jobs.length === 1;
    try {
      for (const job of jobs) {
        if (!alone) this.savepoint.run();
        try {
          outcomes.push({ ok: true, value: await job.fn(this.tx) });
        } catch (error) {
          // A full disk or an I/O error may make SQLite roll the whole transaction back, taking the
          // jobs before this one with it: then none of them may be answered as done.
          if (!db.inTransaction) throw error;
          db.exec(alone ? 'ROLLBACK' : 'ROLLBACK TO job');
          outcomes.push({ ok: false, error });
        }
        if (!alone) this.releaseSavepoint.run();
      }
      if (db.inTransaction) db.exec('COMMIT');
    } catch (error) {
      groupError = classifyStoreError(error);
      try {
        if (db.inTransaction) db.exec('ROLLBACK');
      } catch {
        // The rollback failing too (I/O error) leaves SQLite to roll back from its journal when it can.
      }
    }
    this.release();
    if (groupError !== null) for (const job of jobs) job.reject(groupError);
    else {
      outcomes.forEach((o, i) => {
        if (o.ok) jobs[i].resolve(o.value);
        else jobs[i].reject(o.error);
      });
    }
  }

  /**
   * After an erasure: the WAL still holds frames with the rows as they were before. Checkpointing all of it
   * and truncating the file removes them (in the checkpoint thread, off the event loop; inline without it).
   * Answers whether it completed.
   */
  async truncateWal(): Promise<boolean> {
    if (this.checkpointer) return this.checkpointer.truncate();
    return this.read(() => (this.conn.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[])[0].busy === 0);
  }

  /**
   * Lets the transaction running now finish, refuses what waits behind it (and every later call) with
   * StoreUnavailable "the store is closed", then closes the file: no caller is left waiting for ever.
   */
  async close() {
    if (this.closed) return;
    this.closed = new StoreUnavailable('the store is closed: Salvo is stopping', 1);
    for (const w of this.waiting.splice(0)) w.reject(this.closed);
    if (this.held) await new Promise<void>((resolve) => this.waiting.push({ resolve, reject: () => resolve() }));
    await this.checkpointer?.close();
    this.conn.db.close();
  }
}
