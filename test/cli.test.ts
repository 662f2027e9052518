/**
 * The `salvo` command as a user runs it (the built bin/salvo.js; scripts/run-tests.mjs builds dist/
 * before any test runs): help and version, serve, token create, migrate, and start-up errors.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import postgres from 'postgres';
import { ensureBuilt, SALVO_BIN as BIN } from './built.ts';
import { eventually, freshSchema, PG_URL, tempDir } from './helpers.ts';

const tmp = tempDir();

function salvo(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, SALVO_DATA_DIR: tmp.dir, ...env }, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts a start-up failure: exit code 2, one line on stderr matching `line`, no stack trace. */
function failsWith(r: ReturnType<typeof salvo>, line: RegExp, what: string) {
  assert.equal(r.code, 2, `${what}: exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, line, what);
  assert.equal(r.stderr.trim().split('\n').length, 1, `${what}: one line, got ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /\n\s+at /);
  assert.equal(r.stdout, '', `${what}: nothing on stdout`);
}

/** Every flag each command takes, written out here so the help and the parser are both checked against it. */
const EXPECTED_FLAGS: Record<string, string[]> = {
  serve: ['--port', '--host', '--data-dir', '--database-url', '--log-level'],
  worker: ['--data-dir', '--database-url', '--log-level'],
  migrate: ['--data-dir', '--database-url'],
  backup: ['--force', '--data-dir', '--database-url'],
  'token create': ['--name', '--role', '--data-dir', '--database-url'],
  'token list': ['--data-dir', '--database-url'],
  'token revoke': ['--name', '--data-dir', '--database-url'],
};

/** The flags a help text lists for each `salvo <command>` line in it. */
function flagsInHelp(text: string): Record<string, string[]> {
  const found: Record<string, string[]> = {};
  let current = '';
  for (const line of text.split('\n')) {
    const command = /^ {2}salvo ([a-z]+(?: [a-z]+)?)(?: [A-Z]+)?(?: --|\s*\[|$)/.exec(line);
    if (command) {
      current = command[1];
      found[current] = [];
    }
    const flag = /^ {6}(--[a-z-]+) /.exec(line);
    if (flag) found[current].push(flag[1]);
  }
  return found;
}

/** Serves until `stop()`, resolving with the URL and what it printed when the banner is out. */
async function serveUntilBanner(args: string[], env: Record<string, string | undefined>) {
  // npm sets npm_lifecycle_event for what it runs (npm test included): each test says whether npm started this one.
  const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { env: { ...process.env, SALVO_LOG_LEVEL: 'warn', npm_lifecycle_event: undefined, ...env } });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    server.stdout.on('data', (c) => {
      out += c;
      const m = /serving the API on (http:\/\/\S+)/.exec(out);
      if (m && out.includes('Delivery:')) resolve(m[1]);
    });
    server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  // The banner is printed whole; the hint line, when there is one, is in it.
  await new Promise((r) => setImmediate(r));
  return { url, out: () => out, stop: () => server.kill('SIGTERM') };
}

/** The arguments of the banner's `token create` hint, as a shell would split them. */
function hintArgs(banner: string): string[] {
  // `npm run salvo --` when the server was started by npm (npm start), `salvo` otherwise.
  const hint = /Create one \(in another terminal, in this directory\) with: {2}(?:salvo|npm run salvo --) (token create .*)$/m.exec(banner);
  assert.ok(hint, `the banner has a token create hint: ${banner}`);
  return [...hint[1].matchAll(/'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

describe('salvo command', () => {
  before(() => ensureBuilt());
  after(() => tmp.remove());

  it('prints help for --help, -h and `help`, listing every flag of every command, and exits 0', () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = salvo(args);
      assert.equal(r.code, 0, `${args}: ${r.stderr}`);
      assert.deepEqual(flagsInHelp(r.stdout), EXPECTED_FLAGS, `salvo ${args.join(' ')}`);
      assert.match(r.stdout, /--version/);
    }
  });

  it('prints one command\'s help for `salvo <command> --help` (or -h), and a group\'s for `salvo token --help`', () => {
    for (const [command, flags] of Object.entries(EXPECTED_FLAGS)) {
      const r = salvo([...command.split(' '), '--help']);
      assert.equal(r.code, 0, `${command} --help: ${r.stderr}`);
      assert.deepEqual(flagsInHelp(r.stdout), { [command]: flags }, `${command} --help`);
    }
    assert.deepEqual(flagsInHelp(salvo(['token', 'create', '-h']).stdout), { 'token create': EXPECTED_FLAGS['token create'] });
    const group = salvo(['token', '--help']);
    assert.equal(group.code, 0);
    assert.deepEqual(Object.keys(flagsInHelp(group.stdout)), ['token create', 'token list', 'token revoke']);
  });

  it('prints the version from package.json for --version and -v', () => {
    const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-v']) {
      const r = salvo([flag]);
      assert.equal(r.code, 0);
      assert.equal(r.stdout, `salvo ${version}\n`);
    }
  });

  it('refuses unknown commands and flags, and flags a command does not take, pointing at --help', () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['serve', '--frob', '1'], /unknown flag --frob for 'salvo serve'/],
      [['migrate', '--port', '1'], /unknown flag --port for 'salvo migrate'/],
      [['token'], /'salvo token' needs one of: create, list, revoke/],
      [['token', 'create'], /'salvo token create' needs --name NAME/],
      [['serve', '--port'], /--port needs a value/],
    ];
    for (const [args, message] of cases) {
      const r = salvo(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, message);
      assert.match(r.stderr, /salvo --help/);
    }
  });

  it('stops on bad configuration with one line naming the setting and exit code 2', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'eighty' }, /^salvo: bad configuration: PORT must be a whole number from 0 to 65535 \(got "eighty"\)\n$/],
      [{ SALVO_DATABASE_URL: 'mysql://db/x' }, /^salvo: bad configuration: SALVO_DATABASE_URL must be a postgres:\/\/ URL/],
      [{ SALVO_TOKEN: 'short' }, /^salvo: bad configuration: SALVO_TOKEN must be at least 16 characters/],
      [{ SALVO_LOG_LEVEL: 'loud' }, /^salvo: bad configuration: SALVO_LOG_LEVEL must be one of/],
      [{ SALVO_BODY_LIMIT: '10 parsecs' }, /^salvo: bad configuration: SALVO_BODY_LIMIT must be a size/],
    ];
    for (const [env, line] of cases) failsWith(salvo(['serve'], env), line, JSON.stringify(env));
  });

  it('names HOST when --host is no address or not one of this machine', () => {
    failsWith(salvo(['serve', '--port', '0', '--host', 'not..a-host']), /^salvo: bad configuration: HOST must be an IP address or a host name.*\(got "not\.\.a-host"\)/, 'bad syntax');
    failsWith(salvo(['serve', '--port', '0', '--host', '999.1.1.1']), /^salvo: bad configuration: HOST must be an IP address/, 'not an IPv4 address');
    // TEST-NET-1 (RFC 5737): a valid address no machine here has.
    failsWith(salvo(['serve', '--port', '0', '--host', '192.0.2.1']), /^salvo: bad configuration: HOST "192\.0\.2\.1" is not an address of this machine \(EADDRNOTAVAIL\)/, 'not ours');
  });

  it('names PORT when the port is taken', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    try {
      const port = String((taken.address() as net.AddressInfo).port);
      failsWith(salvo(['serve', '--port', port]), new RegExp(`^salvo: bad configuration: PORT ${port} is already in use on 127\\.0\\.0\\.1`), 'port taken');
    } finally {
      taken.close();
    }
  });

  it('names SALVO_DATA_DIR when the data directory is a file or cannot be made, without hanging', () => {
    const file = path.join(tmp.dir, 'a-file');
    writeFileSync(file, 'not a directory');
    failsWith(salvo(['serve', '--port', '0', '--data-dir', file]), /^salvo: bad configuration: SALVO_DATA_DIR .*a-file is not a directory \(.*a-file is a file\)/, 'a file');
    failsWith(salvo(['migrate', '--data-dir', path.join(file, 'below')]), /^salvo: bad configuration: SALVO_DATA_DIR .*below is not a directory \(.*a-file is a file\)/, 'below a file');
    // /proc refuses new directories even to root (and Node's recursive mkdir never returns there).
    failsWith(salvo(['serve', '--port', '0', '--data-dir', '/proc/salvo-test/data']), /^salvo: bad configuration: SALVO_DATA_DIR \/proc\/salvo-test\/data cannot be created \(ENOENT/, '/proc');
    failsWith(salvo(['token', 'list'], { SALVO_DATA_DIR: '/proc/salvo-test' }), /^salvo: bad configuration: SALVO_DATA_DIR \/proc\/salvo-test cannot be created/, 'token list');
  });

  it('names SALVO_DATABASE_URL when PostgreSQL refuses connections or never answers', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const closedPort = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r));
    failsWith(
      salvo(['migrate', '--database-url', `postgres://salvo@127.0.0.1:${closedPort}/salvo`]),
      new RegExp(`^salvo: bad configuration: SALVO_DATABASE_URL cannot reach PostgreSQL at 127\\.0\\.0\\.1:${closedPort}/salvo: .*ECONNREFUSED`),
      'refused',
    );
    // A server that accepts the connection and says nothing: start-up gives up after 3 s instead of hanging.
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--database-url', `postgres://salvo:secret@127.0.0.1:${port}/salvo`]);
        let stderr = '';
        p.stderr.on('data', (c) => (stderr += c));
        p.on('exit', (code) => resolve({ code, stderr }));
      });
      assert.equal(r.code, 2);
      assert.equal(r.stderr, `salvo: bad configuration: SALVO_DATABASE_URL cannot reach PostgreSQL at 127.0.0.1:${port}/salvo: no answer within 3 s\n`);
    } finally {
      silent.close();
    }
  });

  it('migrates, then finds nothing left to apply', () => {
    const dir = path.join(tmp.dir, 'migrate');
    const first = salvo(['migrate', '--data-dir', dir]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied 001_foundation, 002_delivery, 003_batches, 004_sms, 005_push, 006_console, 007_webhooks, 008_variants, 009_erasures, 010_subscription_fields, 011_resource_tokens, 012_email_links, 013_retention, 014_captured, 015_email_feedback, 016_token_roles, 017_receipts_by_smsc, 020_send_limits, 021_attachment_sha256, 024_sent_copy, 025_attachment_files to SQLite at /);
    const second = salvo(['migrate'], { SALVO_DATA_DIR: dir });
    assert.match(second.stdout, /is up to date/);
  });

  it('says at start which channels send and which capture, and warns, still serving, when the SMTP server does not answer', async () => {
    const closed = net.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as net.AddressInfo).port;
    await new Promise((r) => closed.close(r)); // nothing listens there now
    const captured = await serveUntilBanner(['--data-dir', path.join(tmp.dir, 'channels')], {});
    try {
      assert.match(captured.out(), /^ {4}email: captured in the outbox \(no SALVO_SMTP_URL\)$/m);
      assert.match(captured.out(), /^ {4}sms: captured in the outbox unless its resource sets a provider \(no SALVO_SMPP_URL\)$/m);
      assert.match(captured.out(), /^ {4}push: captured in the outbox unless its resource sets a provider \(no SALVO_VAPID_\*\)$/m);
    } finally {
      captured.stop();
    }
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--data-dir', path.join(tmp.dir, 'smtp-down')], {
      env: { ...process.env, SALVO_LOG_LEVEL: 'silent', SALVO_SMTP_URL: `smtp://user:secret@127.0.0.1:${port}` },
    });
    try {
      let out = '';
      let err = '';
      server.stdout.on('data', (c) => (out += c));
      server.stderr.on('data', (c) => (err += c));
      await eventually(async () => /warning: the SMTP server/.test(err), 15_000, 'the SMTP warning');
      assert.match(out, new RegExp(`^ {4}email: sent over SMTP to 127\\.0\\.0\\.1:${port}$`, 'm'));
      assert.match(err, new RegExp(`^salvo: warning: the SMTP server of SALVO_SMTP_URL \\(127\\.0\\.0\\.1:${port}\\) is unreachable: .*ECONNREFUSED`, 'm'));
      assert.doesNotMatch(out + err, /secret/, 'the password is not printed');
      const url = /serving the API on (http:\/\/\S+)/.exec(out)![1];
      assert.equal((await fetch(`${url}/health`)).status, 200, 'the server started all the same');
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('serves; the banner names the token command for its own store, and a token made so works at once', async () => {
    const dataDir = path.join(tmp.dir, 'by-flag');
    // The environment names another directory: the hint must carry the store the server uses.
    const server = await serveUntilBanner(['--data-dir', dataDir], { SALVO_DATA_DIR: path.join(tmp.dir, 'elsewhere') });
    try {
      assert.match(server.out(), new RegExp(`data: SQLite at ${dataDir}/salvo\\.db`));
      assert.match(server.out(), /Create one \(in another terminal, in this directory\) with: {2}salvo token create/, 'not started by npm: the salvo command');
      const args = hintArgs(server.out());
      assert.deepEqual(args, ['token', 'create', '--name', 'admin', '--data-dir', dataDir]);
      const created = salvo(args, { SALVO_DATA_DIR: path.join(tmp.dir, 'elsewhere') });
      assert.equal(created.code, 0, created.stderr);
      const token = created.stdout.trim();
      assert.match(token, /^[0-9a-f]{48}$/);
      assert.match(created.stderr, new RegExp(`created in SQLite at ${dataDir}/salvo\\.db\\. It is shown only now`));
      const res = await fetch(`${server.url}/api/v1.1/databases/add`, { method: 'POST', body: JSON.stringify({ token, name: 'from-cli' }) });
      assert.deepEqual(await res.json(), { error: 0, error_text: 'Successful operation', data: { id: 1 } });
      assert.match(salvo(['token', 'list', '--data-dir', dataDir]).stdout, /^admin\tadmin\tcreated \S+\tlast used 20\S+Z$/m, 'the first token is admin, and its use is recorded');
      const second = salvo(['token', 'create', '--name', 'reader', '--data-dir', dataDir]);
      assert.equal(second.code, 1, 'a later token must name its role');
      assert.match(second.stderr, /field 'role' is required \(admin, editor, viewer, trigger\): only the first token is admin by default/);
      const reader = salvo(['token', 'create', '--name', 'reader', '--role', 'viewer', '--data-dir', dataDir]);
      assert.equal(reader.code, 0, reader.stderr);
      const refused = await fetch(`${server.url}/api/v1.1/databases/add`, { method: 'POST', body: JSON.stringify({ token: reader.stdout.trim(), name: 'no' }) });
      assert.equal(refused.status, 403);
      assert.match(salvo(['token', 'list', '--data-dir', dataDir]).stdout, /^reader\tviewer\tcreated \S+\tlast used (20\S+Z|never)$/m);
      assert.equal(salvo(['token', 'revoke', '--name', 'reader', `--data-dir=${dataDir}`]).code, 0);
      assert.equal(salvo(['token', 'list']).stdout, '', 'the default store has no token');
      assert.equal(salvo([...args]).code, 1, 'names are unique');
      assert.equal(salvo(['token', 'revoke', '--name', 'admin', `--data-dir=${dataDir}`]).code, 0);
      assert.equal(salvo(['token', 'list', '--data-dir', dataDir]).stdout, '');
    } finally {
      server.stop();
    }
  });

  it('with PostgreSQL, the banner names --database-url; token create and list use that store, by flag or SALVO_DATABASE_URL', { skip: PG_URL ? false : 'SALVO_TEST_PG_URL is not set' }, async () => {
    const { schema, drop } = await freshSchema();
    const url = `${PG_URL}${PG_URL!.includes('?') ? '&' : '?'}search_path=${schema}`;
    try {
      const server = await serveUntilBanner(['--database-url', url], { SALVO_DATA_DIR: tmp.dir, npm_lifecycle_event: 'start' });
      try {
        assert.match(server.out(), /Create one \(in another terminal, in this directory\) with: {2}npm run salvo -- token create/, 'started by npm start: npm run salvo');
        const args = hintArgs(server.out());
        assert.deepEqual(args.slice(0, 5), ['token', 'create', '--name', 'admin', '--database-url']);
        // The URL the server uses, its password (if any) replaced: the banner goes to logs.
        const expected = new URL(url);
        if (expected.password) expected.password = 'PASSWORD';
        assert.equal(args[5], expected.href);
        const created = salvo(['token', 'create', '--name', 'pg-admin', '--database-url', url]);
        assert.equal(created.code, 0, created.stderr);
        assert.match(created.stderr, /created in PostgreSQL at /);
        const res = await fetch(`${server.url}/api/v1.1/databases/list`, { method: 'POST', body: JSON.stringify({ token: created.stdout.trim() }) });
        assert.equal((await res.json()).error, 0);
      } finally {
        server.stop();
      }
      assert.match(salvo(['token', 'list'], { SALVO_DATABASE_URL: url }).stdout, /^pg-admin\tadmin\tcreated /);
      assert.doesNotMatch(salvo(['token', 'list']).stdout, /pg-admin/, 'not in the SQLite store');
      const sql = postgres(PG_URL!, { onnotice: () => {} });
      try {
        const rows = await sql.unsafe(`SELECT name FROM ${schema}.api_tokens`);
        assert.deepEqual(
          rows.map((r) => r.name),
          ['pg-admin'],
        );
      } finally {
        await sql.end();
      }
    } finally {
      await drop();
    }
  });
});
