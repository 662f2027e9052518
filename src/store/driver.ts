/**
 * The few things the Store needs from a SQL engine. SQL is written once, with `?` placeholders and
 * the SQL both SQLite and PostgreSQL speak; each driver adapts placeholders and values.
 */
import { StoreUnavailable } from '../core/errors.ts';

export { StoreUnavailable };

export type Param = string | number | boolean | null | undefined | Buffer;
export type Row = Record<string, unknown>;

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  all<T = Row>(sql: string, params?: Param[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: Param[]): Promise<T | undefined>;
  /** Runs a statement that returns no rows; answers how many rows it changed. */
  run(sql: string, params?: Param[]): Promise<number>;
  /**
   * Runs one statement once per parameter list, in order; answers how many rows they changed in all. On
   * SQLite one prepared statement run in a loop, without an await (a promise) per row. The lists may be
   * changed (their values converted as bound).
   */
  runEach(sql: string, paramLists: Param[][]): Promise<number>;
  /**
   * Runs an INSERT of one row into a table whose key is `id`, answering that id. On SQLite from the
   * statement's own result, without RETURNING (which gathers its rows in a temporary table first, and
   * answers a row object to build): a launch's insert cost half again as much with `RETURNING *`.
   */
  insertId(sql: string, params: Param[]): Promise<number>;
  /** Runs fn inside a transaction; inside, `transaction` nests as a savepoint. */
  transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  close(): Promise<void>;
}

/** A write that broke a UNIQUE constraint; the Store turns it into a 409 naming the thing. */
export class UniqueViolation extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'UniqueViolation';
  }
}

/** `?, ?, ?` for an IN list of n values. */
export const placeholders = (n: number) => Array.from({ length: n }, () => '?').join(', ');

/** Splits a list into chunks small enough for one statement's parameters. */
export function chunks<T>(list: T[], size = 500): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** A table row to insert, by column; booleans are stored as 0/1 as `bind` does. */
export type InsertRow = Record<string, string | number | boolean | null | undefined>;

/**
 * Inserts rows into `table`, set-based on PostgreSQL: one statement for the whole list, the rows as one
 * JSON parameter read back with the table's own column types (json_populate_recordset; no per-column
 * casts, no 65,535-parameter limit). On SQLite one prepared single-row statement run per row (in-process:
 * no round trip to save). Not multi-row VALUES there: inside a transaction a statement that writes several
 * rows and may fail on a constraint (a foreign key, NOT NULL) keeps a statement journal, the pages it
 * changes copied first to a temporary file past 64 KB; an import of 1,000 profiles wrote some 3,000 pages
 * a request into it (docs/performance-log.md, 2026-12-08). `tail` is the statement's end (ON CONFLICT ...).
 * Answers how many rows were added.
 */
export async function insertRows(db: SqlDriver, table: string, columns: readonly string[], rows: InsertRow[], tail = ''): Promise<number> {
  if (rows.length === 0) return 0;
  if (db.dialect === 'postgres') {
    // Rows keep their own keys: `bind`'s conversions (booleans to 0/1, undefined to null) are JSON's here too.
    const values = rows.map((r) => {
      const o: InsertRow = {};
      for (const c of columns) o[c] = typeof r[c] === 'boolean' ? (r[c] ? 1 : 0) : (r[c] ?? null);
      return o;
    });
    return insertJson(db, table, columns, values, tail);
  }
  const n = columns.length;
  return db.runEach(
    oneRowInsert(table, columns, tail),
    rows.map((r) => {
      const params: Param[] = new Array(n);
      for (let i = 0; i < n; i++) params[i] = r[columns[i]];
      return params;
    }),
  );
}

/**
 * insertRows for rows given as values in `columns`' order, which the caller gives up (SQLite binds them
 * as they are, converting in place): what a bulk writer makes directly, without an object a row.
 */
export async function insertTuples(db: SqlDriver, table: string, columns: readonly string[], rows: Param[][], tail = ''): Promise<number> {
  if (rows.length === 0) return 0;
  if (db.dialect === 'sqlite') return db.runEach(oneRowInsert(table, columns, tail), rows);
  const n = columns.length;
  const values = rows.map((r) => {
    const o: InsertRow = {};
    for (let i = 0; i < n; i++) {
      const v = r[i];
      o[columns[i]] = typeof v === 'boolean' ? (v ? 1 : 0) : ((v as InsertRow[string]) ?? null);
    }
    return o;
  });
  return insertJson(db, table, columns, values, tail);
}

/** PostgreSQL's set-based insert: the rows as one JSON parameter (see insertRows). */
function insertJson(db: SqlDriver, table: string, columns: readonly string[], values: InsertRow[], tail: string): Promise<number> {
  const list = columns.join(', ');
  // CAST AS TEXT: a json-typed parameter would be JSON-encoded again by the client.
  return db.run(`INSERT INTO ${table} (${list}) SELECT ${list} FROM json_populate_recordset(NULL::${table}, CAST(? AS TEXT)::json) ${tail}`, [JSON.stringify(values)]);
}

/**
 * A one-row INSERT's text, built once per table, columns and tail: a launch inserts one message row,
 * and a text built anew for each cost the statement cache a long string to hash (the same text, a new
 * string) besides building it.
 */
const oneRowTexts = new WeakMap<readonly string[], Map<string, string>>();
function oneRowInsert(table: string, columns: readonly string[], tail: string): string {
  let byTable = oneRowTexts.get(columns);
  if (!byTable) {
    byTable = new Map();
    oneRowTexts.set(columns, byTable);
  }
  const key = `${table} ${tail}`;
  let sql = byTable.get(key);
  if (sql === undefined) {
    sql = `INSERT INTO ${table} (${columns.join(', ')}) VALUES (${placeholders(columns.length)}) ${tail}`;
    byTable.set(key, sql);
  }
  return sql;
}

/** SQLite result codes (extended ones start with these) meaning "not now", never "this call is wrong". */
const SQLITE_UNAVAILABLE: [RegExp, string][] = [
  [/^SQLITE_(BUSY|LOCKED)/, 'database is locked'],
  [/^SQLITE_FULL/, 'disk is full'],
  [/^SQLITE_IOERR/, 'I/O error'],
  [/^SQLITE_READONLY/, 'database is read-only'],
  [/^SQLITE_(CANTOPEN|PROTOCOL|NOMEM)/, 'cannot open the database'],
];

/** PostgreSQL SQLSTATEs and client codes meaning the server or the connection to it is gone for now. */
const PG_UNAVAILABLE: [RegExp, string][] = [
  [/^(57P01|57P02)$/, 'the database server ended the connection'],
  [/^57P03$/, 'the database server is starting or stopping'],
  [/^53300$/, 'the database server has too many connections'],
  [/^(53100|58030)$/, 'the database server is out of disk or failing'],
  [/^25006$/, 'the database server is read-only'],
  [/^08/, 'the database connection failed'],
  [/^(CONNECTION_ENDED|CONNECTION_DESTROYED|CONNECTION_CLOSED|CONNECT_TIMEOUT)$/, 'the database connection was lost'],
  [/^(ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN)$/, 'cannot reach the database server'],
];

/**
 * The error a store call answers: a StoreUnavailable when the engine says "not now" (locked, disk
 * full, I/O error, connection cut), with the engine's code in the reason; the error itself otherwise.
 */
export function classifyStoreError(e: unknown): unknown {
  if (e instanceof StoreUnavailable) return e;
  const code = (e as { code?: unknown })?.code;
  if (typeof code !== 'string') return e;
  for (const [pattern, reason] of code.startsWith('SQLITE_') ? SQLITE_UNAVAILABLE : PG_UNAVAILABLE) {
    if (pattern.test(code)) return new StoreUnavailable(`${reason}: ${code}`, 2, { cause: e });
  }
  return e;
}

/** The engine's code behind a StoreUnavailable (or any error), e.g. SQLITE_BUSY, 57P01. */
export const engineCode = (e: unknown): string | undefined => {
  const err = e instanceof StoreUnavailable ? e.cause : e;
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' ? code : undefined;
};
