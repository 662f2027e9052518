/**
 * Issue 8, item 11: a token in the query string never reaches the access log, however many times
 * and however spelled it is given. Runs `salvo serve` as a child process and reads its log.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { eventually, tempDir } from '../helpers.ts';

const MAIN = new URL('../../src/main.ts', import.meta.url).pathname;
const TOKEN = 'secret-token-5f3a9c1e7b2d4068';

describe('access log', () => {
  const tmp = tempDir();
  let server: ChildProcess;
  let log = '';
  let url = '';

  before(async () => {
    server = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve', '--port', '0'], {
      env: { ...process.env, SALVO_DATA_DIR: tmp.dir, SALVO_TOKEN: TOKEN, SALVO_LOG_LEVEL: 'info', SALVO_WORKERS: '0' },
    });
    server.stdout!.on('data', (c) => (log += c));
    server.stderr!.on('data', (c) => (log += c));
    url = await eventually(async () => /serving the API on (http:\/\/\S+)/.exec(log)?.[1].replace('localhost', '127.0.0.1'), 30_000, 'the server to start');
  });
  after(() => {
    server.kill();
    tmp.remove();
  });

  it('redacts every token parameter of the query string', async () => {
    const key = '0'.repeat(32);
    const urls = [
      `${url}/trg/${key}/a@b.c?token=x&token=${TOKEN}`,
      `${url}/trg/${key}/a@b.c?token=${TOKEN}&token=${TOKEN}&x=1`,
      `${url}/trg/${key}/a@b.c?to%6Ben=${TOKEN}`,
      `${url}/api/v1.1/databases/list?a=1&token=${TOKEN}`,
      `${url}/health?token=${TOKEN}`,
    ];
    for (const u of urls) await fetch(u, { method: u.includes('/api/') ? 'POST' : 'GET', ...(u.includes('/api/') ? { body: '{}' } : {}) });
    await eventually(async () => (log.match(/request completed/g) ?? []).length >= urls.length, 10_000, 'the requests logged');
    assert.ok(log.includes('token=[redacted]'), 'the log shows where a token was');
    assert.ok(!log.includes(TOKEN), `no token in the log:\n${log}`);
    assert.ok(!log.includes(key), 'no link key in the log');
  });
});
