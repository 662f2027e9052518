/**
 * Shutdown has a deadline: with the SMTP server hanging, SIGTERM stops taking work, waits for the
 * sends in flight up to SALVO_SHUTDOWN_SECONDS, hands them back and exits; a second signal exits at
 * once. What was handed back is delivered by the next worker.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, TEST_TOKEN, type TestServer } from '../helpers.ts';
import { type Shop, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

import { ensureBuilt, SALVO_BIN as BIN } from '../built.ts';
import { assertTiming } from '../timing.ts';

function startWorker(s: TestServer, smtp: TestSmtp, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [BIN, 'worker'], {
    env: { ...process.env, SALVO_DATA_DIR: s.config.dataDir, SALVO_SMTP_URL: smtp.url, SALVO_POLL_MS: '50', SALVO_LOG_LEVEL: 'info', SALVO_TOKEN: TEST_TOKEN, ...env },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let out = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  return {
    child: child as ChildProcess,
    exited: new Promise<{ code: number | null; at: number }>((resolve) => child.on('exit', (code) => resolve({ code, at: Date.now() }))),
    /** Resolves when the worker's log has a line saying `msg`. */
    logged: (msg: string) => eventually(async () => out.includes(`"msg":"${msg}"`), 15_000, `the worker to log "${msg}"`),
  };
}

describe('shutdown with a hanging SMTP server', () => {
  let smtp: TestSmtp;
  let s: TestServer;
  let shop: Shop;

  before(async () => {
    await ensureBuilt();
    ({ s, smtp, shop } = await startShop({ workers: false }));
    smtp.verdict = () => 'hang';
  });
  after(() => stopShop(s, smtp));

  it('exits after SALVO_SHUTDOWN_SECONDS and hands the send back, which is delivered later', async () => {
    const r = await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'john@example.com', content: { email_title: 'handed back' } });
    ok(r);
    const [row] = ok(await s.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
    const w = startWorker(s, smtp, { SALVO_SHUTDOWN_SECONDS: '2' });
    await smtp.dataArrived(1);
    const signalled = Date.now();
    w.child.kill('SIGTERM');
    const { code, at } = await w.exited;
    assert.equal(code, 0);
    const took = at - signalled;
    assert.ok(took >= 1900, `exited ${took} ms after SIGTERM, before the 2 s deadline`);
    assertTiming('exit after SIGTERM with a 2 s deadline', took, { targetMs: 2500, boundMs: 8000 });

    const m = ok(await s.call('messages/get', { id: row.id })).data;
    assert.equal(m.status, 'queued');
    assert.match(m.history.at(-1).detail, /shutdown deadline/);

    smtp.verdict = () => null;
    s.app.startWorkers();
    await eventually(async () => ok(await s.call('messages/get', { id: row.id })).data.status === 'sent', 15_000, 'the handed-back message to be sent');
    assert.equal(smtp.received.filter((x) => x.mail.subject === 'handed back').length, 1);
  });

  it('exits at once on a second signal', async () => {
    await s.app.dispatcher.stop();
    smtp.verdict = () => 'hang';
    ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, email: 'ann@example.com', content: { email_title: 'second signal' } }));
    const w = startWorker(s, smtp, { SALVO_SHUTDOWN_SECONDS: '60' });
    await eventually(async () => (await s.call('messages/list', { campaign_id: shop.campaigns.email, status: 'sending' })).body.data?.length > 0, 15_000, 'a send in flight');
    w.child.kill('SIGTERM');
    // Signals that arrive together may merge into one: send the second once the first is being handled.
    await w.logged('stopping');
    const signalled = Date.now();
    w.child.kill('SIGTERM');
    const { code, at } = await w.exited;
    assert.equal(code, 1);
    // At once: well inside the 60 s deadline that a first signal alone would wait for.
    assertTiming('exit after a second signal', at - signalled, { targetMs: 2000, boundMs: 10_000 });
  });
});
