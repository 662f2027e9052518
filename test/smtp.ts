/** A real SMTP server on 127.0.0.1 for tests: keeps every mail parsed by mailparser, can refuse or stall. */
import { simpleParser, type ParsedMail } from 'mailparser';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

interface Received {
  to: string[];
  from: string;
  /** Whether the mail came over TLS (STARTTLS or implicit). */
  secure: boolean;
  mail: ParsedMail;
  raw: string;
}

/** What the server answers for a mail: accept (null), an SMTP error, hold it (never answer), or accept it after a delay. */
type Verdict = null | { code: number; message: string } | 'hang' | { delayMs: number };

export interface TestSmtp {
  url: string;
  port: number;
  received: Received[];
  /** SMTP connections clients have opened to it so far. */
  connections: number;
  /** Decides each DATA's answer; accept everything by default. */
  verdict: (n: number, raw: string) => Verdict;
  /** Decides each RCPT TO's answer: accept (null) or an SMTP error. */
  rcptVerdict: (address: string) => null | { code: number; message: string };
  /** Resolves once `count` mails have been accepted. */
  waitFor(count: number, timeoutMs?: number): Promise<Received[]>;
  /** Resolves when the n-th DATA (1-based) arrives, accepted or not. */
  dataArrived(n: number): Promise<void>;
  close(): Promise<void>;
}

/** `tls`: offer STARTTLS with this key and certificate (PEM); without it the server speaks plain SMTP only. */
export async function startSmtp(o: { tls?: { key: string; cert: string } } = {}): Promise<TestSmtp> {
  let dataCount = 0;
  const arrivals = new Map<number, () => void>();
  const arrived = new Map<number, Promise<void>>();
  const waiters: (() => void)[] = [];
  const held: (() => void)[] = [];
  const t: Partial<TestSmtp> & { received: Received[]; connections: number } = { received: [], connections: 0, verdict: () => null, rcptVerdict: () => null };
  const server = new SMTPServer({
    authOptional: true,
    ...(o.tls ? { key: o.tls.key, cert: o.tls.cert } : { disabledCommands: ['STARTTLS'] }),
    logger: false,
    onConnect(_session, callback) {
      t.connections++;
      callback();
    },
    onRcptTo(address, _session, callback) {
      const refused = t.rcptVerdict!(address.address);
      callback(refused ? Object.assign(new Error(refused.message), { responseCode: refused.code }) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', async () => {
        const n = ++dataCount;
        arrivals.get(n)?.();
        const raw = Buffer.concat(chunks).toString('utf8');
        let verdict = t.verdict!(n, raw);
        if (verdict && typeof verdict === 'object' && 'delayMs' in verdict) {
          // A slow peer: the wait is the behaviour under test, not a guess at how long something takes.
          await new Promise((r) => setTimeout(r, (verdict as { delayMs: number }).delayMs));
          verdict = null;
        }
        if (verdict === 'hang') {
          held.push(() => callback(Object.assign(new Error('closing'), { responseCode: 421 })));
          return;
        }
        if (verdict) return callback(Object.assign(new Error(verdict.message), { responseCode: verdict.code }));
        t.received.push({
          to: session.envelope.rcptTo.map((r) => r.address),
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          secure: session.secure,
          mail: await simpleParser(raw),
          raw,
        });
        callback();
        for (const w of waiters.splice(0)) w();
      });
    },
  });
  // A client that dies mid-conversation (a killed mailer thread) resets its socket: not the test's concern.
  server.on('error', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.server.address() as AddressInfo).port;
  return Object.assign(t, {
    url: `smtp://127.0.0.1:${port}`,
    port,
    /** Resolves when `count` mails have arrived (checked at each arrival), or fails after timeoutMs. */
    async waitFor(count: number, timeoutMs = 15_000) {
      if (t.received.length >= count) return t.received;
      await new Promise<void>((resolve, reject) => {
        let timedOut = false;
        const check = () => {
          if (timedOut) return;
          if (t.received.length < count) return void waiters.push(check);
          clearTimeout(deadline);
          resolve();
        };
        const deadline = setTimeout(() => {
          timedOut = true;
          reject(new Error(`expected ${count} mails, got ${t.received.length}`));
        }, timeoutMs);
        waiters.push(check);
      });
      return t.received;
    },
    dataArrived(n: number) {
      if (dataCount >= n) return Promise.resolve();
      let p = arrived.get(n);
      if (!p) {
        p = new Promise<void>((r) => arrivals.set(n, r));
        arrived.set(n, p);
      }
      return p;
    },
    async close() {
      for (const h of held.splice(0)) h();
      await new Promise<void>((r) => server.close(() => r()));
    },
  }) as TestSmtp;
}
