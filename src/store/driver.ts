/**
 * The few things the Store needs from a SQL engine. SQL is written once, with `?` placeholders and
 * the SQL both SQLite and PostgreSQL speak; each driver adapts placeholders and values.
 */
export type Param = string | number | boolean | null | undefined | Buffer;
export type Row = Record<string, unknown>;

export interface SqlDriver {
  readonly dialect: 'sqlite' | 'postgres';
  all<T = Row>(sql: string, params?: Param[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: Param[]): Promise<T | undefined>;
  /** Runs a statement that returns no rows; answers how many rows it changed. */
  run(sql: string, params?: Param[]): Promise<number>;
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
