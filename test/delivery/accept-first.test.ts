/**
 * Accept before delivery: while many launch requests are in flight, the process answers them first
 * and delivery claims at most every 100 ms (a floor: it still sends); once they are answered, or
 * their connections gone, delivery goes at full speed again. The requests held in flight here are
 * real HTTP requests whose body has not arrived yet.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { addProfile, setupShop, type Shop } from '../fixture.ts';
import { eventually, ok, startServer, type TestServer } from '../helpers.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const HELD = 10;
const MAILS = 60;

describe('accept before delivery', () => {
  let s: TestServer;
  let smtp: TestSmtp;
  let shop: Shop;
  const profiles: string[] = [];

  before(async () => {
    smtp = await startSmtp();
    // Two workers: a claim takes at most four messages, so the pace under pressure is plain to see.
    // Delivery starts once the test has its triggers queued: what is timed is delivery alone.
    s = await startServer({ workers: false, env: { SALVO_SMTP_URL: smtp.url, SALVO_WORKERS: '2' } });
    shop = await setupShop(s);
    for (let i = 0; i < MAILS; i++) {
      profiles.push(await addProfile(s, shop.db, { email: `p${i}@example.com`, subscriptions: [{ channel: 'email', email: `p${i}@example.com`, resource_id: shop.resource }] }));
    }
  });

  after(async () => {
    await s?.close();
    await smtp?.close();
  });

  /** Launch requests whose headers arrived and whose body never does: in flight until their sockets close. */
  const holdRequests = async (n: number): Promise<Socket[]> => {
    const { port } = new URL(s.url);
    return Promise.all(
      Array.from({ length: n }, () => new Promise<Socket>((resolve, reject) => {
        const c = connect(Number(port), '127.0.0.1', () => {
          c.write('POST /api/v1.1/campaigns/triggers/start HTTP/1.1\r\nHost: salvo\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"token"');
          resolve(c);
        }).on('error', reject);
      })),
    );
  };

  const trigger = async (i: number) => ok(await s.call('campaigns/triggers/start', { id: shop.campaigns.email, matching: 'profile_id', profile_id: profiles[i], content: { email_title: `Mail ${i}`, data_lines: [] } }));

  it('paces delivery while launch requests are many in flight, and sends everything all the same', async () => {
    for (let i = 0; i < MAILS; i++) await trigger(i);
    // When each claim that took messages was made: the pace is what the test reads, on any machine
    // (unpaced, a claim follows as soon as a send frees a slot).
    const claims: number[] = [];
    const store = s.app.store;
    const claimMessages = store.claimMessages.bind(store);
    store.claimMessages = async (...args) => {
      const at = performance.now();
      const got = await claimMessages(...args);
      if (got.length) claims.push(at);
      return got;
    };
    const held = await holdRequests(HELD);
    await eventually(async () => s.app.accepting.pressed(), 5000, 'the held requests to count as pressure');
    s.app.startWorkers();
    await smtp.waitFor(MAILS, 30_000);
    const gaps = claims.slice(1).map((t, i) => t - claims[i]);
    console.log(`${MAILS} mails under pressure in ${claims.length} claims, ${Math.min(...gaps).toFixed(0)} ms apart at least`);
    assert.ok(gaps.every((g) => g >= 95), `claims ${gaps.map((g) => g.toFixed(0)).join(', ')} ms apart: delivery did not yield to the requests in flight`);
    for (const c of held) c.destroy();
    // A request whose connection is gone leaves the count: delivery is back to full speed.
    await eventually(async () => !s.app.accepting.pressed(), 5000, 'the pressure to end once the held connections closed');
  });
});
