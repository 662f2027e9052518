/**
 * better-sqlite3 is synchronous, so reads outside a transaction simply run. A transaction spans
 * awaits, though, and nothing else may touch the connection meanwhile: other callers wait for it, in
 * the order they came.
 *
 * Group commit: the transactions (and lone writes) asked for in one turn of the event loop run one
 * after another inside a single BEGIN ... COMMIT, each in a savepoint of its own, so that one that
 * fails is undone alone. Every caller is answered after that COMMIT, so an answer still means
 * durable; but a hundred concurrent launches cost one commit instead of a hundred (the commit, which
 * writes the WAL, was the largest single cost of a launch).
 */
import Database from 'better-sqlite3';
import { UniqueViolation, type Param, type Row, type SqlDriver } from '../driver.ts';

type Statement = Database.Statement<unknown[], unknown>;

interface Job {
  fn: (tx: SqlDriver) => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

const bind = (params: Param[]) => params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));

function translate(e: unknown): never {
  const code = (e as { code?: string }).code;
  if (code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY') throw new UniqueViolation((e as Error).message);
  throw e;
}

class Connection {
  private readonly statements = new Map<string, Statement>();
  constructor(readonly db: Database.Database) {}

  /** Whether a statement only reads (better-sqlite3 knows from SQLite). */
  readonly(sql: string): boolean {
    return this.prepare(sql).readonly;
  }

  prepare(sql: string): Statement {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }
  all<T>(sql: string, params: Param[]): T[] {
    try {
      return this.prepare(sql).all(...bind(params)) as T[];
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
  async exec(script: string) {
    this.conn.db.exec(script);
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
  private readonly waiting: (() => void)[] = [];

  constructor(file: string) {
    const db = new Database(file);
    db.pragma('journal_mode = WAL');
    // WAL with synchronous=NORMAL: a commit survives a killed process; only power loss can undo the last ones.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    // 8 MB of page cache (better-sqlite3's default is 16): measured no slower on a million profiles, and
    // resident memory stays inside the fan-out budget (docs/performance.md).
    db.pragma('cache_size = -8000');
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
    if (!this.held && this.waiting.length === 0) {
      this.held = true;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Hands the connection to the next waiter, or frees it. */
  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.held = false;
  }

  /** Runs one read: at once when the connection is free, else in its turn. */
  private async read<T>(fn: () => T): Promise<T> {
    if (!this.held && this.waiting.length === 0) return fn();
    await this.acquire();
    try {
      return fn();
    } finally {
      this.release();
    }
  }

  all<T = Row>(sql: string, params: Param[] = []) {
    if (!this.conn.readonly(sql)) return this.transaction(async () => this.conn.all<T>(sql, params));
    return this.read(() => this.conn.all<T>(sql, params));
  }
  async get<T = Row>(sql: string, params: Param[] = []) {
    return (await this.all<T>(sql, params))[0];
  }
  run(sql: string, params: Param[] = []) {
    return this.transaction(async () => this.conn.run(sql, params));
  }
  exec(script: string) {
    return this.read(() => this.conn.db.exec(script)).then(() => undefined);
  }

  private group: Job[] | null = null;

  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (!this.group) {
        this.group = [];
        setImmediate(() => void this.commitGroup());
      }
      this.group.push({ fn, resolve, reject } as Job);
    });
  }

  private async commitGroup(): Promise<void> {
    const jobs = this.group!;
    this.group = null;
    await this.acquire();
    const db = this.conn.db;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      // IMMEDIATE takes the write lock now, so another process cannot make this transaction fail later.
      db.exec('BEGIN IMMEDIATE');
      for (const job of jobs) {
        this.savepoint.run();
        try {
          const value = await job.fn(this.tx);
          this.releaseSavepoint.run();
          outcomes.push({ ok: true, value });
        } catch (error) {
          db.exec('ROLLBACK TO job; RELEASE job');
          outcomes.push({ ok: false, error });
        }
      }
      db.exec('COMMIT');
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      this.release();
      for (const job of jobs) job.reject(error);
      return;
    }
    this.release();
    outcomes.forEach((o, i) => (o.ok ? jobs[i].resolve(o.value) : jobs[i].reject(o.error)));
  }

  async close() {
    await this.acquire();
    this.conn.db.close();
  }
}
