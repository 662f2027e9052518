/** PostgreSQL through the `postgres` client: `?` placeholders become $n, int8 comes back as a number. */
import postgres from 'postgres';
import { UniqueViolation, type Param, type Row, type SqlDriver } from '../driver.ts';

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
  throw e;
}

type Sql = postgres.Sql | postgres.TransactionSql;

export class PgDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  constructor(
    private readonly sql: Sql,
    private readonly root: postgres.Sql | null,
  ) {}

  static connect(url: string, options: { max?: number; searchPath?: string } = {}): PgDriver {
    const sql = postgres(url, {
      max: options.max ?? 10,
      onnotice: () => {},
      // ids and times are int8; every value they hold fits a JS number exactly.
      types: { int8: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
      connection: options.searchPath ? { search_path: options.searchPath } : {},
    });
    return new PgDriver(sql, sql);
  }

  async all<T = Row>(sql: string, params: Param[] = []): Promise<T[]> {
    try {
      return (await this.sql.unsafe(toPg(sql), bind(params) as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[];
    } catch (e) {
      translate(e);
    }
  }
  async get<T = Row>(sql: string, params: Param[] = []) {
    return (await this.all<T>(sql, params))[0];
  }
  async run(sql: string, params: Param[] = []) {
    try {
      const r = await this.sql.unsafe(toPg(sql), bind(params) as postgres.ParameterOrJSON<never>[], { prepare: true });
      return r.count;
    } catch (e) {
      translate(e);
    }
  }
  async exec(script: string) {
    await this.sql.unsafe(script);
  }
  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (this.root) return (await this.root.begin((tx) => fn(new PgDriver(tx, null)))) as T;
    return (await (this.sql as postgres.TransactionSql).savepoint((sp) => fn(new PgDriver(sp, null)))) as T;
  }
  async close() {
    await this.root?.end({ timeout: 5 });
  }
}
