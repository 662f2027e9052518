/**
 * The `salvo` command:
 *   salvo serve                       the API and the delivery workers in one process
 *   salvo worker                      delivery workers only (scale-out)
 *   salvo migrate                     bring the store's schema up to date and exit
 *   salvo token create --name NAME    print a new API token, once
 *   salvo token list | revoke --name NAME
 */
import { createApp } from './app.ts';
import { ConfigError, FLAGS, loadConfig, type Config } from './config.ts';
import { ApiError } from './core/errors.ts';
import { createToken } from './engine/tokens.ts';
import { openStore } from './store/store.ts';

const USAGE = `usage:
  salvo serve [--port N] [--host H] [--data-dir DIR] [--database-url URL] [--log-level L]
  salvo worker [--data-dir DIR] [--database-url URL] [--log-level L]
  salvo migrate
  salvo token create --name NAME
  salvo token list
  salvo token revoke --name NAME
Settings come from the environment (docs/configuration.md); flags override them.`;

class UsageError extends Error {}

/** Splits argv into words and --flag values; settings flags become environment overrides. */
function parseArgs(argv: string[]): { words: string[]; env: Record<string, string>; name?: string } {
  const words: string[] = [];
  const env: Record<string, string> = {};
  let name: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const [flag, inline] = argv[i].split(/=(.*)/s, 2);
    if (!flag.startsWith('--')) {
      words.push(flag);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    if (flag === '--name') name = value;
    else if (FLAGS[flag]) env[FLAGS[flag]] = value;
    else throw new UsageError(`unknown flag ${flag}`);
  }
  return { words, env, name };
}

async function serve(config: Config): Promise<void> {
  const app = await createApp(config);
  const address = await app.http.listen({ port: config.port, host: config.host });
  app.startWorkers();
  const shown = address.replace('127.0.0.1', 'localhost').replace('[::1]', 'localhost');
  const tokens = await app.store.listTokens();
  const banner = [`Salvo is serving the API on ${shown} (data: ${app.where})`, `  API reference: ${shown}/docs   OpenAPI: ${shown}/openapi.json`];
  banner.push(`  Delivery: ${config.workers} workers; email ${config.smtpUrl ? 'over SMTP' : 'captured in the outbox (set SALVO_SMTP_URL to send)'}`);
  if (tokens.length === 0) banner.push('  No API token yet. Create one with:  npm run salvo -- token create --name admin');
  console.log(banner.join('\n'));
  lastNet(app.log);
  stopOnSignals(app);
}

async function worker(config: Config): Promise<void> {
  if (config.workers === 0) throw new ConfigError('SALVO_WORKERS', 'must be at least 1 for salvo worker');
  const app = await createApp(config);
  app.startWorkers();
  console.log(`Salvo worker ${app.dispatcher.worker} is delivering with ${config.workers} workers (data: ${app.where})`);
  lastNet(app.log);
  stopOnSignals(app);
}

/**
 * SIGTERM and SIGINT stop taking work, let sends in flight finish for up to SALVO_SHUTDOWN_SECONDS
 * (then hand them back), and exit. A second signal exits at once; so does a close that overruns the
 * deadline by 5 s (a store that does not answer), since leases bring back anything left held.
 */
function stopOnSignals(app: Awaited<ReturnType<typeof createApp>>): void {
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      app.log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    const deadlineMs = app.config.shutdownMs;
    app.log.info({ signal, deadlineMs }, 'stopping');
    setTimeout(() => {
      app.log.error({ deadlineMs }, 'shutdown overran its deadline; exiting');
      process.exit(1);
    }, deadlineMs + 5000).unref();
    try {
      await app.close(deadlineMs);
    } catch (err) {
      app.log.error({ err }, 'error while stopping');
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

/**
 * The last net, not the fix: every background loop catches its own errors. Something that still
 * escapes is logged as fatal; the process goes on (a rejection) or exits for a supervisor to restart
 * it (an exception, after which its state cannot be trusted). Leases bring back what it held.
 */
function lastNet(log: { fatal(o: object, msg: string): void }): void {
  process.on('unhandledRejection', (err) => log.fatal({ err }, 'unhandled rejection (a bug: please report it); going on'));
  process.on('uncaughtException', (err) => {
    log.fatal({ err }, 'uncaught exception (a bug: please report it); exiting');
    process.exit(70);
  });
}

async function withStore<T>(config: Config, fn: (s: Awaited<ReturnType<typeof openStore>>) => Promise<T>): Promise<T> {
  const opened = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl });
  try {
    return await fn(opened);
  } finally {
    await opened.store.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const { words, env, name } = parseArgs(argv);
  const config = loadConfig({ ...process.env, ...env });
  const [command, sub] = words;
  switch (command) {
    case 'serve':
      await serve(config);
      return -1; // keeps running
    case 'worker':
      await worker(config);
      return -1;
    case 'migrate':
      return withStore(config, async ({ migrated, where }) => {
        console.log(migrated.length ? `applied ${migrated.join(', ')} to ${where}` : `${where} is up to date`);
        return 0;
      });
    case 'token':
      return withStore(config, async ({ store }) => {
        if (sub === 'create') {
          if (!name) throw new UsageError('token create needs --name NAME');
          const token = await createToken(store, name);
          console.log(token);
          console.error(`Token '${name}' created. It is shown only now; Salvo keeps only its hash.`);
        } else if (sub === 'list') {
          for (const t of await store.listTokens()) console.log(`${t.name}\tcreated ${new Date(t.created_at).toISOString()}`);
        } else if (sub === 'revoke') {
          if (!name) throw new UsageError('token revoke needs --name NAME');
          if (!(await store.deleteToken(name))) throw new UsageError(`no token named '${name}'`);
          console.log(`Token '${name}' revoked.`);
        } else throw new UsageError(`unknown token command '${sub ?? ''}'`);
        return 0;
      });
    case undefined:
    case 'help':
    case '--help':
      console.log(USAGE);
      return 0;
    default:
      throw new UsageError(`unknown command '${command}'`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (e: unknown) => {
    if (e instanceof ConfigError) {
      console.error(`salvo: bad configuration: ${e.message}`);
      process.exit(2);
    }
    if (e instanceof UsageError) {
      console.error(`salvo: ${e.message}\n${USAGE}`);
      process.exit(2);
    }
    if (e instanceof ApiError) {
      console.error(`salvo: ${e.text}`);
      process.exit(1);
    }
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'EADDRINUSE' ? `the port is already in use (${err.message})` : err.code === 'ECONNREFUSED' ? `cannot reach the database (${err.message})` : err.message;
    console.error(`salvo: ${why}`);
    process.exit(1);
  },
);
