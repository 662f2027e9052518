/** Failures while sending: SMTP 4xx and lost connections are retried with backoff, 5xx is final. */
import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { eventually, ok, startServer, type TestServer } from '../helpers.ts';
import { addProfile, type Shop, setupShop, startShop, stopShop } from '../fixture.ts';
import type { TestSmtp } from '../smtp.ts';

/** A port nothing listens on. */
async function deadPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

type Msg = { id: number; status: string; attempts: number; last_error: string | null; history: { status: string; detail?: string }[] };

describe('delivery failures', () => {
  let smtp: TestSmtp;
  let s: TestServer;
  let shop: Shop;
  const refusedOnce = new Set<string>();

  before(async () => {
    ({ s, smtp, shop } = await startShop({ env: { SALVO_MAX_ATTEMPTS: '3' } }));
    // soft@ is refused with 451 once, hard@ always with 550.
    smtp.verdict = (_n, raw) => {
      if (/^To: soft@/m.test(raw) && !refusedOnce.has('soft')) {
        refusedOnce.add('soft');
        return { code: 451, message: 'try again later' };
      }
      if (/^To: hard@/m.test(raw)) return { code: 550, message: 'no such mailbox' };
      return null;
    };
    for (const who of ['soft', 'hard']) {
      await addProfile(s, shop.db, { email: `${who}@example.com`, subscriptions: [{ resource_id: shop.resource, channel: 'email', email: `${who}@example.com` }] });
    }
  });
  after(() => stopShop(s, smtp));

  const launchFor = async (server: TestServer, email: string) => {
    const r = await server.call('campaigns/triggers/start', { id: shop.campaigns.email, email, content: { email_title: `to ${email}` } });
    ok(r);
    const [m] = ok(await server.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
    return m.id as number;
  };
  const settled = (server: TestServer, id: number) =>
    eventually(async () => {
      const m = ok(await server.call('messages/get', { id })).data as Msg;
      return ['sent', 'failed'].includes(m.status) && m;
    }, 15_000, `message ${id} to settle`);

  it('retries an SMTP 4xx and then delivers', async () => {
    const m = await settled(s, await launchFor(s, 'soft@example.com'));
    assert.equal(m.status, 'sent');
    assert.equal(m.attempts, 2);
    assert.deepEqual(m.history.map((h) => h.status), ['queued', 'sending', 'waiting', 'sending', 'sent']);
    assert.match(m.history[2].detail!, /^SMTP 451 try again later; retry at /);
    assert.equal(m.last_error, null);
    assert.equal(smtp.received.filter((r) => r.to[0] === 'soft@example.com').length, 1);
  });

  it('fails an SMTP 5xx at once, keeping the reply', async () => {
    const m = await settled(s, await launchFor(s, 'hard@example.com'));
    assert.equal(m.status, 'failed');
    assert.equal(m.attempts, 1);
    assert.equal(m.last_error, 'SMTP 550 no such mailbox');
  });

  it('retries a refused connection with backoff, then gives up after the attempt limit', async () => {
    const down = await startServer({ workers: true, env: { SALVO_SMTP_URL: `smtp://127.0.0.1:${await deadPort()}`, SALVO_MAX_ATTEMPTS: '3' } });
    try {
      const downShop = await setupShop(down);
      const r = await down.call('campaigns/triggers/start', { id: downShop.campaigns.email, email: 'john@example.com' });
      assert.equal(r.status, 200, 'the launch is accepted whatever the transport does');
      const [row] = ok(await down.call('messages/list', { launch_id: Number(r.headers.get('launch-id')) })).data;
      const m = await settled(down, row.id);
      assert.equal(m.status, 'failed');
      assert.equal(m.attempts, 3);
      assert.deepEqual(m.history.map((h) => h.status), ['queued', 'sending', 'waiting', 'sending', 'waiting', 'sending', 'failed']);
      assert.match(m.last_error!, /ECONNREFUSED|ECONNECTION|ESOCKET/);
      assert.match(m.last_error!, /\(gave up after 3 attempts\)$/);
    } finally {
      await down.close();
    }
  });

  it('drops queued and waiting messages when a campaign is deactivated with abort_if_running', async () => {
    const down = await startServer({ workers: true, env: { SALVO_SMTP_URL: `smtp://127.0.0.1:${await deadPort()}`, SALVO_RETRY_BASE_MS: '60000', SALVO_RETRY_MAX_MS: '60000' } });
    try {
      const downShop = await setupShop(down);
      const r = await down.call('campaigns/triggers/start', { id: downShop.campaigns.email, custom_request: { Custom_ID: { $exists: true } } });
      const launch = Number(r.headers.get('launch-id'));
      await eventually(async () => ok(await down.call('messages/list', { launch_id: launch, status: 'waiting' })).data.length === 3, 10_000, 'three waiting messages');
      ok(await down.call('campaigns/deactivate', { id: downShop.campaigns.email, abort_if_running: true }));
      const list = ok(await down.call('messages/list', { launch_id: launch })).data as Msg[];
      assert.deepEqual(list.map((m) => [m.status, m.last_error]), Array(3).fill(['failed', 'aborted: campaign deactivated with abort_if_running']));
      const log = ok(await down.call('campaigns/log_v2', { id: downShop.campaigns.email })).data;
      assert.deepEqual(log.slice(0, 2).map((e: { message: string }) => e.message), ['aborted: 3 queued messages dropped, 0 launches stopped expanding', 'campaign deactivated']);
    } finally {
      await down.close();
    }
  });
});
