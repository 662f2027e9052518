/**
 * A flooding SMSC in a worker thread (test/smsc.ts's server): it sends its receipts from its own event
 * loop, as a peer in another process would, so /health measured in the test's thread shows what Salvo
 * spends on the flood, not what making it costs.
 *
 * Messages from the parent: {flood: [{id, stat, err}]} sends them all at once and answers
 * {statuses} when every deliver_sm_resp is in; {submits: true} answers {ids} of the accepted submits.
 */
import { parentPort } from 'node:worker_threads';
import type { PDU } from 'smpp';
import { startSmsc } from '../smsc.ts';

const smsc = await startSmsc();
smsc.autoReceipt = false;
const port = parentPort!;
port.postMessage({ url: smsc.url });
port.on('message', (m: { flood?: { id: string; stat: string; err: string }[]; submits?: boolean; close?: boolean }) => {
  if (m.submits) port.postMessage({ ids: smsc.submits.map((s) => s.messageId) });
  if (m.close) void smsc.close().then(() => port.close());
  if (!m.flood) return;
  const session = smsc.sessions.find((x) => !x.socket.destroyed)!;
  const statuses = m.flood.map(
    (r) =>
      new Promise<number>((resolve) =>
        session.deliver_sm(
          { source_addr: '79000000002', destination_addr: 'SHOP', esm_class: 0x04, short_message: `id:${r.id} sub:001 dlvrd:000 submit date:2611281200 done date:2611281201 stat:${r.stat} err:${r.err} text:` },
          (resp: PDU) => resolve(resp.command_status),
        ),
      ),
  );
  void Promise.all(statuses).then((s) => port.postMessage({ statuses: s }));
});
