/** The start-up warnings of peers the settings name that do not answer: which are probed, what the line says, what it never prints. */
import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import { loadConfig } from '../../src/config.ts';
import type { Resource } from '../../src/core/types.ts';
import { namedPeers, warnIfPeersUnreachable } from '../../src/delivery/channel-report.ts';

/** A port nothing listens on, and one something does. */
async function ports(): Promise<{ closed: number; open: number; stop: () => void }> {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const closed = (probe.address() as net.AddressInfo).port;
  await new Promise((r) => probe.close(r));
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { closed, open: (server.address() as net.AddressInfo).port, stop: () => server.close() };
}

describe('start-up warnings of the peers named in the settings', () => {
  it("probes SALVO_SMTP_URL, SALVO_SMPP_URL and each resource's SMSC, gateway and push endpoints; warns of each that does not answer, by host only", async () => {
    const p = await ports();
    try {
      const config = loadConfig({ SALVO_SMTP_URL: `smtp://u:smtp-secret@127.0.0.1:${p.open}`, SALVO_SMPP_URL: `smpp://sys:smppsec@127.0.0.1:${p.closed}` });
      const resource = {
        id: 7,
        sms: { smpp: { url: `smpp://sys:ressec@127.0.0.1:${p.closed}` }, http: { url: `http://127.0.0.1:${p.open}/send?to={to}&text={text}` } },
        push: { apns: { endpoint: `http://127.0.0.1:${p.closed}` } },
      } as unknown as Resource;
      assert.deepEqual(
        namedPeers(config, [resource]).map((x) => x.what),
        ['the SMTP server of SALVO_SMTP_URL', 'the SMSC of SALVO_SMPP_URL', 'the SMSC of resource 7', 'the SMS gateway of resource 7', 'the APNs endpoint of resource 7'],
      );
      const lines: string[] = [];
      await warnIfPeersUnreachable(config, [resource], (l) => lines.push(l), 1000);
      assert.deepEqual(lines.map((l) => l.replace(/ is unreachable: .*;/, ' is unreachable;')).sort(), [
        `salvo: warning: the APNs endpoint of resource 7 (127.0.0.1:${p.closed}) is unreachable; its pushes wait and retry until it answers`,
        `salvo: warning: the SMSC of SALVO_SMPP_URL (127.0.0.1:${p.closed}) is unreachable; SMS waits and retries until it answers`,
        `salvo: warning: the SMSC of resource 7 (127.0.0.1:${p.closed}) is unreachable; its SMS wait and retry until it answers`,
      ]);
      assert.doesNotMatch(lines.join('\n'), /secret|smppsec|ressec/, 'credentials in the URLs are never printed');
    } finally {
      p.stop();
    }
  });
});
