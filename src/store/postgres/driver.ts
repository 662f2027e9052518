/**
 * PostgreSQL through the `postgres` client: `?` placeholders become $n, int8 comes back as a number.
 *
 * A cut connection (server restart, pg_terminate_backend, network) fails the calls that were on it
 * with StoreUnavailable, and the client opens a new connection for the next query. A call that
 * could not even connect is tried again, with backoff, for up to `retryMs`: it never ran, so trying
 * again cannot do it twice. One that was cut mid-way is not: it may have committed.
 */
// The `postgres` client, patched at install (patches/postgres+3.4.9.patch, patches/README.md) so that a
// cut connection never leaves a query waiting.
import postgres from 'postgres';
import { classifyStoreError, engineCode, UniqueViolation, type Param, type Row, type SqlDriver } from '../driver.ts';

/** The name Salvo's connections show in pg_stat_activity.application_name, unless PGAPPNAME or the URL says otherwise. */
const APPLICATION_NAME = 'salvo';

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

/** Errors after which the connection is gone (the server ended it, or the socket closed). */
const CONNECTION_GONE = /^(57P0[12]|08...|CONNECTION_(CLOSED|ENDED|DESTROYED)|ECONNRESET|EPIPE|ETIMEDOUT)$/;

/**
 * One transaction's connection. Once it is gone, nothing more may be sent on it: postgres 3.4.9 then
 * writes to a closed socket outside any promise (an uncaught TypeError that would end the process,
 * porsager/postgres#1208), and it does so itself when a transaction's function rejects (ROLLBACK).
 * So a transaction whose connection is gone never settles its function; the client rejects the
 * transaction when it sees the close.
 */
interface TxState {
  gone: unknown;
  onGone?: () => void;
}

const never = new Promise<never>(() => {});

/**
 * Statements sent to the server, counted per driver and its transactions (a BEGIN and its COMMIT, or a
 * savepoint and its release, count as two), and round trips: the times the driver went from waiting
 * on nothing to waiting on the server, so statements sent together count once. The round-trip budget
 * of a launch is tested with it (test/store/round-trips.test.ts).
 */
export interface StatementCount {
  statements: number;
  roundTrips: number;
  inFlight: number;
  /** Wake-up NOTIFYs (wakeups.ts): sent after a commit and waited for by nobody, so apart from the rest. */
  notifies: number;
}

export class PgDriver implements SqlDriver {
  readonly dialect = 'postgres' as const;
  constructor(
    private readonly sql: Sql,
    private readonly root: postgres.Sql | null,
    private readonly retryMs = 2000,
    private readonly tx: TxState | null = null,
    readonly count: StatementCount = { statements: 0, roundTrips: 0, inFlight: 0, notifies: 0 },
  ) {}

  /**
   * Calls onNotify with each payload NOTIFYed on `channel` (on a connection of its own, which the client
   * opens again after a cut and LISTENs again on); onListen runs each time the LISTEN is in place, first
   * and after every reconnect, when notifications may have been missed.
   */
  async listen(channel: string, onNotify: (payload: string) => void, onListen: () => void): Promise<{ unlisten(): Promise<void> }> {
    const { unlisten } = await this.connecting(() => this.root!.listen(channel, onNotify, onListen));
    return { unlisten };
  }

  static connect(url: string, options: { max?: number; searchPath?: string; retryMs?: number } = {}): PgDriver {
    const sql = postgres(url, {
      max: options.max ?? 10,
      onnotice: () => {},
      // Seconds before reconnecting after the n-th reset in a row: the client's own grows to 20 s, while a
      // query waits for that connection; a few cuts in a row would then hold requests for many seconds.
      backoff: (resets: number) => Math.min(0.05 * 2 ** resets, 1) * (0.5 + Math.random() / 2),
      // A server that does not answer a connect (down, or a network dropping packets) fails it in 5 s, not
      // the client's 30: a request waiting on it answers 503 in seconds.
      connect_timeout: 5,
      // ids and times are int8; every value they hold fits a JS number exactly.
      types: { int8: { to: 20, from: [20], serialize: (v: number) => String(v), parse: (v: string) => Number(v) } },
      connection: { application_name: process.env.PGAPPNAME || APPLICATION_NAME, ...(options.searchPath ? { search_path: options.searchPath } : {}) },
    });
    return new PgDriver(sql, sql, options.retryMs);
  }

  /**
   * Runs a call, again while the server cannot be reached (it never ran), for up to retryMs. A read
   * is also tried again when its connection was cut (a pooled connection the server ended while it
   * sat idle fails the next query sent on it).
   */
  private async connecting<T>(call: () => Promise<T>, read = false): Promise<T> {
    const since = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (e) {
        const code = engineCode(e) ?? '';
        const again = this.root !== null && (NEVER_RAN.test(code) || (read && CONNECTION_GONE.test(code) && code !== 'CONNECTION_ENDED'));
        if (!again || Date.now() - since >= this.retryMs) translate(e);
        await sleep(Math.min(500, 25 * 2 ** attempt));
      }
    }
  }

  /** One statement: on the pool (retried while unreachable), or on the transaction's connection while it lives. */
  private async query<T>(call: () => Promise<T>, sql = ''): Promise<T> {
    const count = this.count;
    count.statements++;
    if (count.inFlight++ === 0) count.roundTrips++;
    try {
      return await this.send(call, sql);
    } finally {
      count.inFlight--;
    }
  }

  private async send<T>(call: () => Promise<T>, sql: string): Promise<T> {
    if (!this.tx) return this.connecting(call, /^\s*SELECT\b/i.test(sql));
    if (this.tx.gone) throw this.tx.gone;
    try {
      return await call();
    } catch (e) {
      if (!this.tx.gone && CONNECTION_GONE.test(engineCode(e) ?? '')) {
        this.tx.gone = classifyStoreError(e);
        this.tx.onGone?.();
      }
      translate(e);
    }
  }

  async all<T = Row>(sql: string, params: Param[] = []): Promise<T[]> {
    return this.query(async () => (await this.sql.unsafe(toPg(sql), bind(params) as postgres.ParameterOrJSON<never>[], { prepare: true })) as unknown as T[], sql);
  }
  async get<T = Row>(sql: string, params: Param[] = []) {
    return (await this.all<T>(sql, params))[0];
  }
  /** Sends a NOTIFY on `channel`; counted in `notifies`, not as a statement a caller waits on. */
  async notify(channel: string, payload: string): Promise<void> {
    this.count.notifies++;
    await this.send(() => this.sql.unsafe('SELECT pg_notify($1, $2)', [channel, payload]), 'SELECT pg_notify');
  }
  async run(sql: string, params: Param[] = []) {
    return this.query(async () => (await this.sql.unsafe(toPg(sql), bind(params) as postgres.ParameterOrJSON<never>[], { prepare: true })).count);
  }
  async insertId(sql: string, params: Param[]) {
    return Number((await this.get<{ id: number | string }>(`${sql} RETURNING id`, params))!.id);
  }
  /** One statement after another (set-based writes use one statement instead: insertRows). */
  async runEach(sql: string, paramLists: Param[][]) {
    let changed = 0;
    for (const params of paramLists) changed += await this.run(sql, params);
    return changed;
  }
  async exec(script: string) {
    await this.query(async () => void (await this.sql.unsafe(script)));
  }

  /** fn on the transaction, except that it never settles once the connection is gone (see TxState). */
  private inside<T>(state: TxState, fn: (tx: SqlDriver) => Promise<T>) {
    return async (sql: postgres.TransactionSql): Promise<T> => {
      let result: T;
      try {
        result = await fn(new PgDriver(sql, null, this.retryMs, state, this.count));
      } catch (e) {
        if (state.gone) return never;
        throw e;
      }
      // Gone while fn did something else: no COMMIT (or RELEASE) may be sent on it either.
      if (state.gone) return never;
      return result;
    };
  }

  async transaction<T>(fn: (tx: SqlDriver) => Promise<T>): Promise<T> {
    if (this.tx) {
      if (this.tx.gone) throw this.tx.gone;
      this.count.statements += 2;
      this.count.roundTrips += 2;
      try {
        return (await (this.sql as postgres.TransactionSql).savepoint(this.inside(this.tx, fn))) as T;
      } catch (e) {
        translate(this.tx.gone ?? e);
      }
    }
    return this.connecting(async () => {
      this.count.statements += 2;
      this.count.roundTrips += 2;
      const state: TxState = { gone: null };
      const begun = this.root!.begin(this.inside(state, fn)) as Promise<T>;
      // The client rejects the transaction as soon as it sees its connection close, before fn may
      // send anything more on it: mark it gone then.
      begun.catch((e) => {
        if (!state.gone && CONNECTION_GONE.test(engineCode(e) ?? '')) state.gone = classifyStoreError(e);
      });
      // The client rejects a transaction whose connection closed; should it not, the caller is not left waiting.
      const gone = new Promise<never>((_, reject) => (state.onGone = () => setTimeout(() => reject(state.gone), 2000).unref()));
      try {
        return await Promise.race([begun, gone]);
      } catch (e) {
        // A failure inside fn was translated by the inner driver already; the client's own close error is not.
        throw state.gone ?? e;
      }
    });
  }
  async close() {
    await this.root?.end({ timeout: 5 });
  }
}
