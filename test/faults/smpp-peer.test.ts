/**
 * SMSC faults other than a drop mid-window (smpp-drop.test.ts): down when the first SMS comes, an
 * answer that never comes, a link that stops answering enquire_link. And the environment's SMPP
 * defaults. Each through the HTTP API against the `smpp` package's server.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, describe, test } from 'node:test';
import { startServer, type TestServer } from '../helpers.ts';
import { startSmsc, type TestSmsc } from '../smsc.ts';
import { setupSmsShop } from '../delivery/sms.ts';

/** A port nothing listens on (yet). */
async function freePort(): Promise<number> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  return port;
}

describe('SMSC faults', () => {
  const closers: (() => Promise<unknown>)[] = [];
  after(async () => {
    for (const c of closers.reverse()) await c();
  });
  const server = async (env: Record<string, string> = {}): Promise<TestServer> => {
    const s = await startServer({ workers: true, env });
    closers.push(() => s.close());
    return s;
  };
  const smscOn = async (o: Parameters<typeof startSmsc>[0] = {}): Promise<TestSmsc> => {
    const smsc = await startSmsc(o);
    closers.push(() => smsc.close());
    return smsc;
  };

  test('an SMSC that is down when the SMS comes: the message waits and goes once the SMSC is up', async () => {
    const port = await freePort();
    // Attempts to spare: the retries (100 to 400 ms apart here) must outlast the session's reconnect backoff.
    const s = await server({ SALVO_MAX_ATTEMPTS: '30' });
    const shop = await setupSmsShop(s, { smpp: { url: `smpp://salvo:secret@127.0.0.1:${port}` } }, ['+79000000031']);
    const id = await shop.start('+79000000031', { text: 'patience' });
    const waiting = await shop.message(id, (m) => m.status === 'waiting');
    assert.match(waiting.last_error, /^SMPP_NOT_BOUND|^SMPP_SESSION_LOST/);
    const smsc = await smscOn({ port });
    const m = await shop.message(id, (m) => m.status === 'delivered', 30_000);
    assert.deepEqual(smsc.messages().map((x) => x.text), ['patience']);
    assert.equal(m.history.filter((h: { status: string }) => h.status === 'sent').length, 1);
  });

  test('a submit_sm whose answer never comes is retried after SALVO_SMPP_TIMEOUT_SECONDS; the session carries on', async () => {
    const smsc = await smscOn();
    const s = await server({ SALVO_SMPP_TIMEOUT_SECONDS: '1' });
    const shop = await setupSmsShop(s, { smpp: { url: smsc.url } }, ['+79000000032', '+79000000033']);
    let swallowed = 0;
    smsc.verdict = (x) => (x.to === '79000000032' && swallowed++ === 0 ? 'swallow' : 0);
    const id = await shop.start('+79000000032', { text: 'slow' });
    const m = await shop.message(id, (m) => m.status === 'delivered', 30_000);
    assert.match(m.history.find((h: { status: string }) => h.status === 'waiting').detail, /^SMPP_TIMEOUT: no submit_sm_resp .* within 1000 ms; it may have been accepted/);
    // The lost answer's submit had arrived: this message arrives twice, the bound of one per submit in flight.
    assert.equal(smsc.messages().filter((x) => x.to === '79000000032').length, 2);
    await shop.message(await shop.start('+79000000033', { text: 'next' }), (m) => m.status === 'delivered');
    assert.equal(smsc.binds, 1, 'the same session served both');
  });

  test('a link that stops answering enquire_link is dropped and bound again', async () => {
    const smsc = await smscOn();
    const s = await server();
    const shop = await setupSmsShop(s, { smpp: { url: smsc.url, enquire_link_seconds: 1 } }, ['+79000000034', '+79000000035']);
    await shop.message(await shop.start('+79000000034', { text: 'one' }), (m) => m.status === 'delivered');
    smsc.answerEnquireLink = false;
    await smsc.waitFor(() => smsc.binds === 2, 15_000, 'a second bind');
    smsc.answerEnquireLink = true;
    await shop.message(await shop.start('+79000000035', { text: 'two' }), (m) => m.status === 'delivered');
    assert.ok(smsc.enquireLinks >= 1);
  });

  test('SALVO_SMPP_URL and SALVO_SMS_SENDER serve a resource with no SMS provider of its own', async () => {
    const smsc = await smscOn();
    const s = await server({ SALVO_SMPP_URL: smsc.url, SALVO_SMS_SENDER: 'DEFAULT' });
    const shop = await setupSmsShop(s, {}, ['+79000000036']);
    await shop.message(await shop.start('+79000000036', { text: 'from the environment' }), (m) => m.status === 'delivered');
    assert.deepEqual(smsc.messages().map((x) => [x.from, x.text]), [['DEFAULT', 'from the environment']]);
    const outbox = (await s.call('outbox/list', { channel: 'sms' })).body.data;
    assert.equal(outbox.length, 0, 'nothing went to the outbox');
    const shown = (await s.call('resources/get', { id: shop.resource })).body.data;
    assert.deepEqual(shown.sms, {}, 'resources/get shows what the resource holds, not the environment');
  });
});
