/**
 * A real SMPP 3.4 server (the `smpp` package's) on 127.0.0.1 for tests: checks the bind, answers every
 * submit_sm with a message id (or the status `verdict` says), decodes GSM 03.38 and UCS-2 as the
 * package does, reassembles concatenated parts by their UDH, and sends deliver_sm receipts.
 */
import type { AddressInfo } from 'node:net';
import smpp, { type PDU, type Session } from 'smpp';

interface Submit {
  n: number;
  to: string;
  from: string;
  sourceTon: number;
  sourceNpi: number;
  destTon: number;
  destNpi: number;
  dataCoding: number;
  esmClass: number;
  registeredDelivery: number;
  text: string;
  /** The concatenation header: reference, total parts, this part (1-based); null for a single SMS. */
  udh: { ref: number; total: number; seq: number } | null;
  /** What the server answered: the message id, or null when it refused. */
  messageId: string | null;
  status: number;
}

/**
 * Which status a submit gets: 0 accepts; another number refuses with that command_status; 'swallow'
 * accepts it (it counts as arrived) and never answers, as when the resp is lost with the connection.
 */
type Verdict = number | 'swallow';

export interface TestSmsc {
  port: number;
  /** smpp://system_id:password@127.0.0.1:port */
  url: string;
  submits: Submit[];
  binds: number;
  sessions: Session[];
  verdict: (s: Submit) => Verdict;
  /** Sends a receipt for every accepted submit at once (stat DELIVRD unless receiptStat says otherwise). */
  autoReceipt: boolean;
  receiptStat: (s: Submit) => string;
  /** Whether receipts carry the receipted_message_id / message_state TLVs as well as the text. */
  receiptTlvs: boolean;
  /** Whether enquire_link is answered (a hung SMSC answers nothing). */
  answerEnquireLink: boolean;
  enquireLinks: number;
  /** The texts that arrived whole: single SMS and reassembled multi-part ones, each with its recipient. */
  messages(): { to: string; text: string; parts: number; dataCoding: number; from: string }[];
  sendReceipt(s: Submit, stat: string): void;
  /** Resolves when `check` holds, polling. */
  waitFor<T>(check: () => T | undefined | null | false, timeoutMs?: number, what?: string): Promise<T>;
  close(): Promise<void>;
}

const STATES: Record<string, number> = { DELIVRD: 2, EXPIRED: 3, DELETED: 4, UNDELIV: 5, ACCEPTD: 6, UNKNOWN: 7, REJECTD: 8 };

export async function startSmsc(o: { systemId?: string; password?: string; port?: number } = {}): Promise<TestSmsc> {
  const systemId = o.systemId ?? 'salvo';
  const password = o.password ?? 'secret';
  let nextId = 0x1000;
  const t: TestSmsc = {
    port: 0,
    url: '',
    submits: [],
    binds: 0,
    sessions: [],
    verdict: () => 0,
    autoReceipt: true,
    receiptStat: () => 'DELIVRD',
    receiptTlvs: false,
    answerEnquireLink: true,
    enquireLinks: 0,
    messages() {
      const out: ReturnType<TestSmsc['messages']> = [];
      const groups = new Map<string, Submit[]>();
      for (const s of t.submits) {
        if (s.messageId === null) continue;
        if (!s.udh) out.push({ to: s.to, text: s.text, parts: 1, dataCoding: s.dataCoding, from: s.from });
        else {
          const key = `${s.to}/${s.udh.ref}/${s.udh.total}`;
          const g = groups.get(key) ?? [];
          if (!g.some((x) => x.udh!.seq === s.udh!.seq)) g.push(s);
          groups.set(key, g);
          if (g.length === s.udh.total) {
            g.sort((a, b) => a.udh!.seq - b.udh!.seq);
            out.push({ to: s.to, text: g.map((x) => x.text).join(''), parts: g.length, dataCoding: s.dataCoding, from: s.from });
            groups.delete(key);
          }
        }
      }
      return out;
    },
    sendReceipt(s, stat) {
      const session = t.sessions.find((x) => !x.socket.destroyed);
      if (!session || !s.messageId) return;
      const text = `id:${s.messageId} sub:001 dlvrd:${stat === 'DELIVRD' ? '001' : '000'} submit date:2611281200 done date:2611281201 stat:${stat} err:000 text:`;
      session.deliver_sm({
        source_addr: s.to,
        destination_addr: s.from,
        esm_class: 0x04,
        short_message: text,
        ...(t.receiptTlvs ? { receipted_message_id: s.messageId, message_state: STATES[stat] ?? 7 } : {}),
      });
    },
    async waitFor(check, timeoutMs = 10_000, what = 'condition') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = check();
        if (v) return v;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    close: async () => {
      for (const s of t.sessions) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const server = smpp.createServer((session) => {
    session.on('error', () => {});
    session.on('bind_transceiver', (pdu: PDU) => {
      if (pdu.system_id !== systemId || pdu.password !== password) {
        session.send(pdu.response({ command_status: smpp.errors.ESME_RBINDFAIL }));
        session.close();
        return;
      }
      t.binds++;
      t.sessions.push(session);
      session.on('close', () => t.sessions.splice(t.sessions.indexOf(session), 1));
      session.send(pdu.response({ system_id: 'TESTSMSC' }));
    });
    session.on('enquire_link', (pdu: PDU) => {
      t.enquireLinks++;
      if (t.answerEnquireLink) session.send(pdu.response());
    });
    session.on('unbind', (pdu: PDU) => {
      session.send(pdu.response());
      session.close();
    });
    session.on('submit_sm', (pdu: PDU) => {
      const sm = pdu.short_message as { udh?: Buffer[]; message: string };
      const concat = sm.udh?.find((h) => h[0] === 0x00);
      const s: Submit = {
        n: t.submits.length + 1,
        to: pdu.destination_addr as string,
        from: pdu.source_addr as string,
        sourceTon: pdu.source_addr_ton as number,
        sourceNpi: pdu.source_addr_npi as number,
        destTon: pdu.dest_addr_ton as number,
        destNpi: pdu.dest_addr_npi as number,
        dataCoding: pdu.data_coding as number,
        esmClass: pdu.esm_class as number,
        registeredDelivery: pdu.registered_delivery as number,
        text: sm.message,
        udh: concat ? { ref: concat[2], total: concat[3], seq: concat[4] } : null,
        messageId: null,
        status: 0,
      };
      const verdict = t.verdict(s);
      s.status = verdict === 'swallow' ? 0 : verdict;
      if (s.status === 0) s.messageId = `m${(nextId++).toString(16)}`;
      t.submits.push(s);
      if (verdict === 'swallow') return;
      session.send(pdu.response(verdict === 0 ? { message_id: s.messageId } : { command_status: verdict }));
      if (verdict === 0 && t.autoReceipt) t.sendReceipt(s, t.receiptStat(s));
    });
  });
  await new Promise<void>((r) => server.listen(o.port ?? 0, '127.0.0.1', () => r()));
  t.port = (server.address() as AddressInfo).port;
  t.url = `smpp://${systemId}:${password}@127.0.0.1:${t.port}`;
  return t;
}
