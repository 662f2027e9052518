/** The composition root: opens the store, ensures the configured token, builds the HTTP server. */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config.ts';
import { ensureEnvToken } from './engine/tokens.ts';
import { buildHttp } from './http/server.ts';
import { openStore, type Store } from './store/store.ts';

export interface App {
  config: Config;
  store: Store;
  http: FastifyInstance;
  /** Where the data lives, for the start-up line. */
  where: string;
  close(): Promise<void>;
}

export async function createApp(config: Config, o: { searchPath?: string } = {}): Promise<App> {
  const { store, where } = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, searchPath: o.searchPath });
  if (config.token) await ensureEnvToken(store, config.token);
  const http = await buildHttp({ config, store });
  return {
    config,
    store,
    http,
    where,
    async close() {
      await http.close();
      await store.close();
    },
  };
}
