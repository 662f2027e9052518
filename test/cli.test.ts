/** The `salvo` command as a user runs it: serve, token create, migrate, and bad configuration. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { ensureBuilt, SALVO_BIN as BIN } from './built.ts';
import { tempDir } from './helpers.ts';

const tmp = tempDir();

function salvo(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { env: { ...process.env, SALVO_DATA_DIR: tmp.dir, ...env }, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('salvo command', () => {
  before(() => ensureBuilt());
  after(() => tmp.remove());

  it('stops on bad configuration with one line naming the setting and exit code 2', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ PORT: 'eighty' }, /^salvo: bad configuration: PORT must be a whole number from 0 to 65535 \(got "eighty"\)\n$/],
      [{ SALVO_DATABASE_URL: 'mysql://db/x' }, /^salvo: bad configuration: SALVO_DATABASE_URL must be a postgres:\/\/ URL/],
      [{ SALVO_TOKEN: 'short' }, /^salvo: bad configuration: SALVO_TOKEN must be at least 16 characters/],
      [{ SALVO_LOG_LEVEL: 'loud' }, /^salvo: bad configuration: SALVO_LOG_LEVEL must be one of/],
      [{ SALVO_BODY_LIMIT: '10 parsecs' }, /^salvo: bad configuration: SALVO_BODY_LIMIT must be a size/],
    ];
    for (const [env, line] of cases) {
      const r = salvo(['serve'], env);
      assert.equal(r.code, 2, JSON.stringify(env));
      assert.match(r.stderr, line);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
    const unknown = salvo(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command 'frobnicate'/);
  });

  it('migrates, then finds nothing left to apply', () => {
    const first = salvo(['migrate']);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied 001_foundation, 002_delivery, 003_batches, 005_push to SQLite at /);
    const second = salvo(['migrate']);
    assert.match(second.stdout, /is up to date/);
  });

  it('serves, prints its URL, and accepts a token made by `salvo token create` while it runs', async () => {
    const server = spawn(process.execPath, [BIN, 'serve', '--port', '0'], { env: { ...process.env, SALVO_DATA_DIR: tmp.dir, SALVO_LOG_LEVEL: 'warn' } });
    try {
      let out = '';
      const url = await new Promise<string>((resolve, reject) => {
        server.stdout.on('data', (c) => {
          out += c;
          const m = /serving the API on (http:\/\/\S+)/.exec(out);
          if (m) resolve(m[1]);
        });
        server.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
      });
      assert.match(out, /No API token yet\. Create one with: {2}npm run salvo -- token create --name admin/);
      const created = salvo(['token', 'create', '--name', 'admin']);
      assert.equal(created.code, 0, created.stderr);
      const token = created.stdout.trim();
      assert.match(token, /^[0-9a-f]{48}$/);
      assert.match(created.stderr, /shown only now/);
      const res = await fetch(`${url}/api/v1.1/databases/add`, { method: 'POST', body: JSON.stringify({ token, name: 'from-cli' }) });
      assert.deepEqual(await res.json(), { error: 0, error_text: 'Successful operation', data: { id: 1 } });
      assert.match(salvo(['token', 'list']).stdout, /^admin\tcreated /);
      assert.equal(salvo(['token', 'create', '--name', 'admin']).code, 1, 'names are unique');
    } finally {
      server.kill('SIGTERM');
    }
  });
});
