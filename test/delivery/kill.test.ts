/**
 * A worker killed mid-send loses nothing: a `salvo worker` process is killed with SIGKILL while the
 * SMTP server holds its message; after the lease runs out another worker takes the message and
 * delivers it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { type Shop, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

import { ensureBuilt, SALVO_BIN as BIN } from '../built.ts';

describe('a killed worker', () => {
  let smtp: TestSmtp;
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    await ensureBuilt();
    // This server takes launches but runs no workers until the test starts them.
    ({ s, smtp, shop } = await startShop({ workers: false, env: { SALVO_LEASE_SECONDS: '2' } }));
    // The first message is held (no answer to DATA) until the test ends; later ones are accepted.
    smtp.verdict = (n) => (n === 1 ? 'hang' : null);
  });
  after(() => stopShop(s, smtp));

  it('has its claimed message retaken after the lease and delivered', async () => {
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'survives a kill' } });
    ok(r);
    const [row] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;

    const child = spawn(process.execPath, [BIN, 'worker'], {
      env: { ...process.env, SALVO_DATA_DIR: s.config.dataDir, SALVO_SMTP_URL: smtp.url, SALVO_LEASE_SECONDS: '2', SALVO_POLL_MS: '50', SALVO_LOG_LEVEL: 'silent', SALVO_TOKEN: TEST_TOKEN },
      stdio: 'ignore',
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await smtp.dataArrived(1); // the worker is mid-send, waiting for the server's answer
    const held = ok(await s.call('messages/get', { id: row.id })).data;
    assert.equal(held.status, 'sending');
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');

    s.app.startWorkers();
    const m = await eventually(async () => {
      const got = ok(await s.call('messages/get', { id: row.id })).data;
      return got.status === 'sent' && got;
    }, 15_000, 'the message to be retaken and sent');
    assert.equal(m.attempts, 2);
    assert.deepEqual(m.history.map((h: { status: string }) => h.status), ['queued', 'queued', 'sending', 'sent']);
    assert.match(m.history[1].detail, new RegExp(`^lease expired: the worker sending it \\(.*:${child.pid}:.*\\) stopped before recording an outcome$`));
    assert.ok(!m.history[2].detail.includes(`:${child.pid}:`), 'another worker sent it');
    const delivered = smtp.received.filter((x) => x.mail.subject === 'survives a kill');
    assert.equal(delivered.length, 1);
    assert.deepEqual(delivered[0].to, ['john@example.com']);
  });
});
