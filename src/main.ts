/**
 * The `salvo` command: serve, worker, migrate, token create|list|revoke (src/cli.ts holds the table of
 * commands and flags that both the parser and `--help` read). Start-up problems end the process with
 * one line naming the setting at fault, and exit code 2.
 */
import { type App, createApp } from './app.ts';
import { parseArgs, UsageError, usage, version, type CommandSpec } from './cli.ts';
import { ConfigError, defaultDataDir, isInstalled, loadConfig, type Config } from './config.ts';
import { ApiError, StoreUnavailable } from './core/errors.ts';
import { channelLines, warnIfPeersUnreachable } from './delivery/channel-report.ts';
import { createToken, listTokenViews } from './engine/tokens.ts';
import { BackupError, backupSqlite } from './store/sqlite/backup.ts';
import { DataDirError, openStore, reachPostgres, sqliteFile, storeWhere } from './store/store.ts';

/** How long start-up waits for PostgreSQL to answer before it gives up with a clear error. */
const REACH_PG_MS = 3000;

/**
 * PostgreSQL is asked for an answer before anything waits on it, so an unreachable server is one
 * error naming the setting within seconds (the data directory is checked as the store opens it).
 */
async function checkStore(config: Config): Promise<void> {
  if (!config.databaseUrl) return;
  try {
    await reachPostgres(config.databaseUrl, REACH_PG_MS);
  } catch (e) {
    throw storeError(config, e);
  }
}

/** A store that cannot be opened at start-up is a configuration problem: the error names the setting. */
function storeError(config: Config, e: unknown): unknown {
  if (e instanceof DataDirError) return new ConfigError('SALVO_DATA_DIR', e.message);
  const where = storeWhere(config);
  if (config.databaseUrl) {
    if (e instanceof StoreUnavailable) return new ConfigError('SALVO_DATABASE_URL', `cannot reach ${where}: ${e.reason}`);
    if ((e as Error)?.name === 'PostgresError') return new ConfigError('SALVO_DATABASE_URL', `${where} refused: ${(e as Error).message}`);
  } else if (e instanceof StoreUnavailable) {
    return new ConfigError('SALVO_DATA_DIR', `cannot open ${where}: ${e.reason}`);
  }
  return e;
}

/** Opens the app, with store problems named by their setting. */
async function startApp(config: Config) {
  await checkStore(config);
  try {
    return await createApp(config);
  } catch (e) {
    throw storeError(config, e);
  }
}

/** A listen that fails names HOST or PORT. */
function listenError(config: Config, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new ConfigError('PORT', `${config.port} is already in use on ${config.host}`);
  if (code === 'EACCES') return new ConfigError('PORT', `${config.port} needs privileges this process has not (EACCES); use a port above 1023`);
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EADDRNOTAVAIL' || code === 'EAFNOSUPPORT') {
    return new ConfigError('HOST', `"${config.host}" is not an address of this machine (${code})`);
  }
  return e;
}

/**
 * The command that creates a token in the store this server uses, for the banner: the store named
 * by flag, since the environment the user later types in may differ. A password is not printed.
 * `npm run salvo --` only in a checkout started by npm (npm start): where Salvo is installed there is
 * no such script to run, and `salvo` is on PATH.
 */
function tokenHint(config: Config): string {
  const runner = process.env.npm_lifecycle_event && !isInstalled() ? 'npm run salvo --' : 'salvo';
  let store = '';
  if (config.databaseUrl) {
    const { url, hidden } = withoutPassword(config.databaseUrl);
    store = ` --database-url '${url}'${hidden ? '   (put the real password in place of PASSWORD)' : ''}`;
  } else if (config.dataDir !== defaultDataDir(process.env)) {
    store = ` --data-dir '${config.dataDir}'`;
  }
  return `${runner} token create --name admin${store}`;
}

/** A PostgreSQL URL to print: its password, if any, replaced by PASSWORD. */
function withoutPassword(databaseUrl: string): { url: string; hidden: boolean } {
  const u = new URL(databaseUrl);
  const hidden = u.password !== '';
  if (hidden) u.password = 'PASSWORD';
  return { url: u.href, hidden };
}

/**
 * salvo backup FILE: a copy of the SQLite store, taken while Salvo runs (store/sqlite/backup.ts). A
 * PostgreSQL store is PostgreSQL's to back up: the pg_dump command is printed, and the exit code is 1.
 */
function backupCommand(config: Config, file: string, force: boolean): number {
  if (config.databaseUrl) {
    const { url, hidden } = withoutPassword(config.databaseUrl);
    console.error(
      `salvo: backup copies the embedded SQLite store; this one is ${storeWhere(config)}. Back it up with pg_dump, from any machine that reaches it:\n` +
        `  pg_dump --format=custom --file '${file}' '${url}'${hidden ? '   (put the real password in place of PASSWORD)' : ''}\n` +
        'and restore it with pg_restore (docs/operations.md, "Backups").',
    );
    return 1;
  }
  const source = sqliteFile(config.dataDir);
  const started = performance.now();
  try {
    const { bytes } = backupSqlite(source, file, force);
    const took = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`backed up ${source} to ${file} (${(bytes / 1024 / 1024).toFixed(1)} MB in ${took} s)`);
    console.error(`To restore it: stop Salvo, copy the file to ${source} (remove salvo.db-wal and salvo.db-shm beside it), run salvo migrate, start Salvo.`);
    return 0;
  } catch (e) {
    if (!(e instanceof BackupError)) throw e;
    console.error(`salvo: backup: ${e.message}`);
    return 1;
  }
}

async function serve(config: Config): Promise<void> {
  const app = await startApp(config);
  let address: string;
  try {
    address = await app.http.listen({ port: config.port, host: config.host });
  } catch (e) {
    throw listenError(config, e);
  }
  // Before the workers: mail that names a bounce address is only sent once its listener is up.
  const bouncePort = await app.startBounceListener();
  app.startWorkers();
  const shown = address.replace('127.0.0.1', 'localhost').replace('[::1]', 'localhost');
  const tokens = await app.store.listTokens();
  const banner = [`Salvo is serving the API on ${shown} (data: ${app.where})`, `  API reference: ${shown}/docs   OpenAPI: ${shown}/openapi.json`, `  Console: ${shown}/ui (sign in with an API token${tokens.length === 0 ? ': create one as below' : ''})`];
  banner.push(`  Delivery: ${config.workers} workers`, ...channelLines(config).map((l) => `    ${l}`));
  if (bouncePort !== null) banner.push(`  Bounces: Return-Path on ${config.feedback.bounceDomain}, read by the listener on ${config.feedback.bounceSmtpHost}:${bouncePort}`);
  if (tokens.length === 0) banner.push(`  No API token yet. Create one (in another terminal, in this directory) with:  ${tokenHint(config)}`);
  console.log(banner.join('\n'));
  void warnOfPeers(app, config);
  lastNet(app.log);
  stopOnSignals(app);
}

async function worker(config: Config): Promise<void> {
  if (config.workers === 0) throw new ConfigError('SALVO_WORKERS', 'must be at least 1 for salvo worker');
  const app = await startApp(config);
  app.startWorkers();
  console.log([`Salvo worker ${app.dispatcher.worker} is delivering with ${config.workers} workers (data: ${app.where})`, ...channelLines(config).map((l) => `    ${l}`)].join('\n'));
  void warnOfPeers(app, config);
  lastNet(app.log);
  stopOnSignals(app);
}

/**
 * SIGTERM and SIGINT stop taking work, let sends in flight finish for up to SALVO_SHUTDOWN_SECONDS
 * (then hand them back), and exit. A second signal exits at once; so does a close that overruns the
 * deadline by 5 s (a store that does not answer), since leases bring back anything left held.
 */
/** The start-up warnings of peers that do not answer, in the background; a failure to read the resources is no warning. */
function warnOfPeers(app: App, config: Config): void {
  if (config.egress.deprecatedAlias) console.warn('salvo: SALVO_WEBHOOK_DENY_PRIVATE is deprecated: it now sets the egress policy for every peer; rename it SALVO_EGRESS_DENY_PRIVATE');
  app.store
    .listResources()
    .then((resources) => warnIfPeersUnreachable(config, resources, (line) => console.warn(line)))
    .catch((err) => app.log.warn({ err }, 'could not check the peers named in the settings'));
}

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
  await checkStore(config);
  const opened = await openStore({ dataDir: config.dataDir, databaseUrl: config.databaseUrl }).catch((e: unknown) => {
    throw storeError(config, e);
  });
  try {
    return await fn(opened);
  } finally {
    await opened.store.close();
  }
}

async function tokenCommand(command: CommandSpec, config: Config, name: string | undefined, role: string | undefined): Promise<number> {
  return withStore(config, async ({ store, where }) => {
    if (command.name === 'token create') {
      const made = await createToken(store, name!, role);
      console.log(made.token);
      console.error(`Token '${name}' (role ${made.role}) created in ${where}. It is shown only now; Salvo keeps only its hash.`);
    } else if (command.name === 'token list') {
      for (const t of await listTokenViews(store)) console.log(`${t.name}\t${t.role}\tcreated ${t.created}\tlast used ${t.last_used ?? 'never'}`);
    } else {
      if (!(await store.deleteToken(name!))) throw new UsageError(`no token named '${name}' in ${where}`);
      console.log(`Token '${name}' revoked.`);
    }
    return 0;
  });
}

async function main(argv: string[]): Promise<number> {
  const parsed = parseArgs(argv);
  if (parsed.kind === 'help') {
    console.log(usage(parsed.commands));
    return 0;
  }
  if (parsed.kind === 'version') {
    console.log(version());
    return 0;
  }
  const { command, env, args } = parsed;
  const config = loadConfig({ ...process.env, ...env });
  switch (command.name) {
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
    case 'backup':
      return backupCommand(config, args.file, args.force !== undefined);
    default:
      return tokenCommand(command, config, args.name, args.role);
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
      console.error(`salvo: ${e.message}\nRun 'salvo --help' for the commands and their flags.`);
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
