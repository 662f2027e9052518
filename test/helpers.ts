/** What tests share: stores of both kinds, a running server on 127.0.0.1, and a client for it. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import { createApp, type App } from '../src/app.ts';
import { loadConfig, type Config } from '../src/config.ts';
import { openStore, type Store } from '../src/store/store.ts';

export const PG_URL = process.env.SALVO_TEST_PG_URL || null;

/** The stores the contract runs on: SQLite always, PostgreSQL when SALVO_TEST_PG_URL is set. */
export const STORE_KINDS: ('sqlite' | 'postgres')[] = PG_URL ? ['sqlite', 'postgres'] : ['sqlite'];

export function tempDir(prefix = 'salvo-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A fresh PostgreSQL schema of its own, so parallel test files never meet. */
export async function freshSchema(): Promise<{ schema: string; drop: () => Promise<void> }> {
  const schema = `salvo_test_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const sql = postgres(PG_URL!, { onnotice: () => {} });
  await sql.unsafe(`CREATE SCHEMA ${schema}`);
  await sql.end();
  return {
    schema,
    drop: async () => {
      const s = postgres(PG_URL!, { onnotice: () => {} });
      await s.unsafe(`DROP SCHEMA ${schema} CASCADE`);
      await s.end();
    },
  };
}

export interface TestStore {
  store: Store;
  close(): Promise<void>;
}

export async function openTestStore(kind: 'sqlite' | 'postgres'): Promise<TestStore> {
  if (kind === 'sqlite') {
    const tmp = tempDir();
    const { store } = await openStore({ dataDir: tmp.dir, databaseUrl: null });
    return {
      store,
      close: async () => {
        await store.close();
        tmp.remove();
      },
    };
  }
  const { schema, drop } = await freshSchema();
  const { store } = await openStore({ dataDir: '', databaseUrl: PG_URL, searchPath: schema });
  return {
    store,
    close: async () => {
      await store.close();
      await drop();
    },
  };
}

export const TEST_TOKEN = 'test-token-0123456789abcdef';

export interface Response {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests read whatever data a method answers, checked by their assertions
  body: { error: number; error_text: string; data: any; [k: string]: any };
}

export interface TestServer {
  app: App;
  url: string;
  config: Config;
  /** POST /api/v1.1/<method> with the test token in the body unless the body has its own. */
  call(method: string, body?: unknown, init?: { headers?: Record<string, string>; raw?: string }): Promise<Response>;
  /** Stops this server (in-flight work finishes) and starts another on the same data and port. */
  restart(o?: { workers?: boolean }): Promise<TestServer>;
  close(): Promise<void>;
}

export interface ServerOptions {
  kind?: 'sqlite' | 'postgres';
  env?: Record<string, string>;
  workers?: boolean;
  /** The time delivery works by, kept across restarts: a test moves it forward instead of waiting or editing the store. */
  clock?: () => number;
}

/**
 * A server on 127.0.0.1 with a fresh store. `workers: true` starts delivery, polling fast so tests
 * do not wait; give SALVO_SMTP_URL in env to deliver to a test SMTP server.
 */
export async function startServer(o: ServerOptions = {}): Promise<TestServer> {
  const tmp = tempDir();
  const pg = o.kind === 'postgres' ? await freshSchema() : null;
  const config = loadConfig({
    PORT: '0',
    SALVO_DATA_DIR: tmp.dir,
    SALVO_TOKEN: TEST_TOKEN,
    SALVO_LOG_LEVEL: 'silent',
    SALVO_POLL_MS: '50',
    SALVO_RETRY_BASE_MS: '100',
    SALVO_RETRY_MAX_MS: '400',
    ...(pg ? { SALVO_DATABASE_URL: PG_URL! } : {}),
    ...o.env,
  });
  const cleanup = async () => {
    await pg?.drop();
    tmp.remove();
  };
  return serve(config, { searchPath: pg?.schema, clock: o.clock }, o.workers ?? false, 0, cleanup);
}

async function serve(config: Config, appOptions: Parameters<typeof createApp>[1], workers: boolean, port: number, cleanup: () => Promise<void>): Promise<TestServer> {
  const app = await createApp(config, appOptions);
  const address = await app.http.listen({ port, host: '127.0.0.1' });
  if (workers) app.startWorkers();
  return {
    app,
    url: address,
    config,
    async call(method, body = {}, init = {}) {
      const payload =
        init.raw ?? JSON.stringify(body && typeof body === 'object' && !Array.isArray(body) && !('token' in body) ? { token: TEST_TOKEN, ...body } : body);
      const res = await fetch(`${address}/api/v1.1/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...init.headers },
        body: payload,
      });
      const text = await res.text();
      let parsed: Response['body'];
      try {
        parsed = JSON.parse(text);
      } catch {
        throw new Error(`${method} answered ${res.status} with a body that is not JSON: ${text.slice(0, 200)}`);
      }
      return { status: res.status, headers: res.headers, body: parsed };
    },
    async restart(o = {}) {
      await app.close();
      return serve(config, appOptions, o.workers ?? workers, Number(new URL(address).port), cleanup);
    },
    async close() {
      await app.close();
      await cleanup();
    },
  };
}

/** Asserts a success envelope and answers it. */
export function ok(r: Response): Response['body'] {
  if (r.status !== 200 || r.body.error !== 0) {
    throw new Error(`expected success, got HTTP ${r.status}: ${JSON.stringify(r.body)}`);
  }
  return r.body;
}

/** Polls until check() answers something truthy, or fails after timeoutMs. */
export async function eventually<T>(check: () => Promise<T | undefined | null | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
