/**
 * Salvo's own MX for its bounce domain: an SMTP server (smtp-server) that takes mail only for the bounce
 * addresses Salvo signed (each message's Return-Path, core/public-links.ts) and for `fbl@` the domain
 * (feedback loops that post complaints to a fixed address: such a report counts only when the mail it
 * reports carries a signed bounce address). It reads delivery status notifications (RFC 3464), ARF
 * complaint reports (RFC 5965) and plain-text bounces (core/feedback.ts) and records what they say.
 *
 * Bounded: a message over `maxBytes` is refused (552) after being read to its end without being kept,
 * a session may name at most a few recipients, connections are capped. A forged address is refused at
 * RCPT (550) and changes nothing. A report the store cannot take now is answered 451, so the sending MTA
 * retries it: nothing it reported is lost.
 */
import type { AddressObject } from 'mailparser';
import type { AddressInfo } from 'node:net';
import type { SMTPServer, SMTPServerDataStream, SMTPServerSession } from 'smtp-server';
import { bounceOfDeliveryStatus, bounceOfText, complaintOfFeedbackReport, type EmailFeedback, type FeedbackResult } from '../core/feedback.ts';
import { readBounceAddress } from '../core/public-links.ts';

export interface BounceListenerOptions {
  host: string;
  port: number;
  /** SALVO_BOUNCE_DOMAIN: the domain of the bounce addresses, whose MX points here. */
  domain: string;
  /** The store's link key, which signs the bounce addresses. */
  key: Buffer;
  maxBytes: number;
  record: (messageId: number, f: EmailFeedback) => Promise<FeedbackResult>;
  log: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
}

/** Recipients one mail may name: a bounce goes to one Return-Path. */
const MAX_RECIPIENTS = 5;
const MAX_CLIENTS = 100;

/** An SMTP reply for smtp-server's callbacks. */
const reply = (code: number, message: string) => Object.assign(new Error(message), { responseCode: code });

/**
 * What a report mail says, and the bounce addresses its reported message names (for fbl@ reports).
 * mailparser gives a delivery-status part as text (inline, after the notification) and a feedback-report
 * part as an attachment; the report type of the top multipart/report tells which one to read.
 */
async function readReport(raw: Buffer): Promise<{ feedback: EmailFeedback | null; namedAddresses: string[] }> {
  // Loaded on first use, as smtp-server is (listen): about 30 MB of resident memory that a Salvo without
  // a bounce domain never needs (measured with process.memoryUsage in a bare process).
  const { simpleParser } = await import('mailparser');
  const mail = await simpleParser(raw, { skipHtmlToText: true, skipTextToHtml: true, skipImageLinks: true });
  const part = (...types: string[]) => mail.attachments.find((a) => types.includes(a.contentType.toLowerCase()))?.content.toString('utf8') ?? null;
  const type = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  const reportType = type?.value?.toLowerCase() === 'multipart/report' ? (type.params?.['report-type'] ?? '').toLowerCase() : null;
  const text = mail.text ?? '';
  const report = part('message/feedback-report') ?? (reportType === 'feedback-report' ? text : null);
  const status = part('message/delivery-status', 'message/global-delivery-status') ?? (reportType === 'delivery-status' ? text : null);
  const original = part('message/rfc822', 'text/rfc822-headers', 'message/global', 'message/global-headers') ?? '';
  // Where the reported mail came from: its Return-Path, or the report's Original-Mail-From (ARF).
  const named = `${original}\n${report ?? ''}\n${text}`.matchAll(/^(?:Return-Path|Original-Mail-From):\s*<?([^>\s]+)>?/gim);
  const namedAddresses = [...named].map((m) => m[1]);
  let feedback: EmailFeedback | null = null;
  if (report !== null) feedback = complaintOfFeedbackReport(report, 'arf');
  else if (status !== null) feedback = bounceOfDeliveryStatus(status, 'dsn');
  else if (looksLikeBounce(mail.headers, fromAddress(mail.from))) feedback = bounceOfText(text, 'bounce');
  return { feedback, namedAddresses };
}

const fromAddress = (from: AddressObject | undefined) => from?.value[0]?.address ?? '';

/**
 * A plain-text mail is read as a bounce only when it says it is one: an auto-reply ("out of office")
 * also goes to the Return-Path, and its text may quote a 5xx.
 */
function looksLikeBounce(headers: Map<string, unknown>, from: string): boolean {
  if (/^(mailer-daemon|postmaster)@/i.test(from)) return true;
  if (String(headers.get('auto-submitted') ?? '').toLowerCase().startsWith('auto-replied')) return false;
  const subject = String(headers.get('subject') ?? '');
  return /undeliver|delivery (status|failure|has failed)|returned mail|failure notice|could not be delivered/i.test(subject);
}

/** Reads the DATA stream, keeping at most `max` bytes; answers null when the mail was longer. */
function readBounded(stream: SMTPServerDataStream, max: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    stream.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    stream.on('end', () => resolve(size > max || stream.sizeExceeded ? null : Buffer.concat(chunks)));
    stream.on('error', reject);
  });
}

export class BounceListener {
  private server: SMTPServer | null = null;

  constructor(private readonly o: BounceListenerOptions) {}

  private async create(): Promise<SMTPServer> {
    const { o } = this;
    const fbl = `fbl@${o.domain}`.toLowerCase();
    const { SMTPServer } = await import('smtp-server');
    const server = new SMTPServer({
      name: o.domain,
      banner: 'Salvo bounce listener',
      authOptional: true,
      disabledCommands: ['AUTH', 'STARTTLS'],
      size: o.maxBytes,
      maxClients: MAX_CLIENTS,
      socketTimeout: 60_000,
      logger: false,
      onRcptTo: (address, session, done) => {
        const to = address.address.toLowerCase();
        if (session.envelope.rcptTo.length >= MAX_RECIPIENTS) return done(reply(452, '4.5.3 Too many recipients'));
        if (to === fbl || readBounceAddress(o.key, to, o.domain) !== null) return done();
        done(reply(550, '5.1.1 No such bounce address'));
      },
      onData: (stream, session, done) => {
        this.receive(stream, session).then(
          () => done(),
          (e: Error & { responseCode?: number }) => done(e.responseCode ? e : reply(451, '4.3.0 The report could not be recorded now; try again later')),
        );
      },
    });
    // A client that misbehaves is its own problem; the listener goes on.
    server.on('error', (e) => o.log.warn({ err: e }, 'bounce listener: a connection failed'));
    return server;
  }

  /** Starts listening; a port that is taken is a clear start-up error, not a crash later. */
  async listen(): Promise<number> {
    const server = await this.create();
    this.server = server;
    return new Promise((resolve, reject) => {
      const failed = (e: NodeJS.ErrnoException) =>
        reject(new Error(`the bounce listener cannot listen on ${this.o.host}:${this.o.port} (SALVO_BOUNCE_SMTP_PORT): ${e.code === 'EADDRINUSE' ? 'the port is in use' : e.message}`));
      server.server.once('error', failed);
      server.listen(this.o.port, this.o.host, () => {
        server.server.off('error', failed);
        resolve((server.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    const server = this.server;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private async receive(stream: SMTPServerDataStream, session: SMTPServerSession): Promise<void> {
    const raw = await readBounded(stream, this.o.maxBytes);
    if (raw === null) throw reply(552, `5.3.4 Message too big: at most ${this.o.maxBytes} bytes`);
    const { feedback, namedAddresses } = await readReport(raw);
    const recipients = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
    const ids = new Set<number>();
    for (const address of [...recipients, ...(recipients.includes(`fbl@${this.o.domain}`.toLowerCase()) ? namedAddresses : [])]) {
      const id = readBounceAddress(this.o.key, address, this.o.domain);
      if (id !== null) ids.add(id);
    }
    if (!feedback || ids.size === 0) {
      // Accepted and dropped: refusing would only send a bounce of the bounce back to its sender.
      this.o.log.info({ recipients, kind: feedback?.kind ?? null }, 'bounce listener: a mail that reports nothing Salvo sent; dropped');
      return;
    }
    for (const id of ids) {
      const result = await this.o.record(id, feedback);
      this.o.log.info({ message: id, kind: feedback.kind, result }, 'bounce listener: report recorded');
    }
  }
}
