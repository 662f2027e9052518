/**
 * PostgreSQL through the `postgres` client: `?` placeholders become $n, int8 comes back as a number.
 *
 * A cut connection (server restart, pg_terminate_backend, network) fails the calls that were on it
 * with StoreUnavailable, and the client opens a new connection for the next query. A call that
 * could not even connect is tried again, with backoff, for up to `retryMs`: it never ran, so trying
 * again cannot do it twice. One that was cut mid-way is not: it may have committed.
 */
import postgres from 'postgres';
import { classifyStoreError, engineCode, UniqueViolation, type Param, type Row, type SqlDriver } from '../driver.ts';

/** The name Salvo's connections show in pg_stat_activity.application_name, unless PGAPPNAME or the URL says otherwise. */
export const APPLICATION_NAME = 'salvo';

/** Failures that happen before a query is sent (connecting): safe to try again. */
const NEVER_RAN = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|CONNECT_TIMEOUT|57P03|53300)$/;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const converted = new Map<string, string>();
function toPg(sql: string): string {
  let out = converted.get(sql);
  if (out === undefined) {
    let n = 0;
    out = sql.replace(/\?/g, () => `$${++n}`);
    converted.set(sql, out);
  }
  return out;
}

const bind = (params: Param[]) => params.map((p) => (p === undefined ? null : typeof p === 'boolean' ? (p ? 1 : 0) : p));

function translate(e: unknown): never {
  if ((e as { code?: string }).code === '23505') throw new UniqueViolation((e as Error).message);
  throw classifyStoreError(e);
}

type Sql = postgres.Sql | postgres.TransactionSql;

export class PgDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  constructor(
    private readonly sql: Sql,
    private readonly root: postgres.Sql | null,
    private readonly retryMs = 2000,
  ) {}

  static connect(url: string, options: { max?: number; searchPath?: string; retryMs?: number } = {}): PgDriver {
    const sql = postgres(url, {
      max: options.max ?? 10,
      onnotice: () => {},
      // ids and times are int8; every value they hold fits a JS number exactly.
      types: { int8: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
      connection: { application_name: process.env.PGAPPNAME || APPLICATION_NAME, ...(options.searchPath ? { search_path: options.searchPath } : {}) },
    });
    return new PgDriver(sql, sql, options.retryMs);
  }

  /** Runs a call, again while the server cannot be reached (it never ran), for up to retryMs. */
  private async connecting<T>(call: () => Promise<T>): Promise<T> {
    const since = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        const neverRan = this.root !== null && NEVER_RAN.test(engineCode(e) ?? '');
        if (!neverRan || Date.now() - since >= this.retryMs) translate(e);
        await sleep(Math.min(500, 25 * 2 ** attempt));
      }
    }
  }

  async all<T = Row>(sql: string, params: Param[] = []): Promise<T[]> {
    return this.connecting(async () => (await this.sql.unsafe(toPg(sql), bind(params) as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[]);
  }
  async get<T = Row>(sql: string, params: Param[] = []) {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: Param[] = []) {
    return this.connecting(async () => (await this.sql.unsafe(toPg(sql), bind(params) as postgres.ParameterOrJSON<never>[], { prepare: true })).count);
  }
  async exec(script: string) {
    await this.connecting(async () => void (await this.sql.unsafe(script)));
  }
  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    // A failure inside fn was already translated by the inner driver; classifying again leaves it as it is.
    if (this.root) return this.connecting(async () => (await this.root!.begin((tx) => fn(new PgDriver(tx, null)))) as T);
    try {
      return (await (this.sql as postgres.TransactionSql).savepoint((sp) => fn(new PgDriver(sp, null)))) as T;
    } catch (e) {
      translate(e);
    }
  }
  async close() {
    await this.root?.end({ timeout: 5 });
  }
}
