/**
 * The SMTP side of email delivery, in a worker thread: nodemailer builds the MIME message and speaks
 * SMTP over its pool here, so the main thread (HTTP, store, rendering) does not pay for it.
 */
import nodemailer from 'nodemailer';
import { parentPort, workerData } from 'node:worker_threads';

export interface MailJob {
  id: number;
  mail: Record<string, unknown>;
}
export interface MailError {
  message: string;
  code?: string;
  responseCode?: number;
  response?: string;
  /** The SMTP command that was refused (RCPT TO, DATA, ...): tells a bad address from a bad message. */
  command?: string;
  permanent?: boolean;
}
export type MailResult = { id: number; response: string } | { id: number; error: MailError };

/** What the thread is started with (SALVO_SMTP_URL, SALVO_SMTP_POOL, SALVO_SMTP_TLS_*). */
export interface MailerSettings {
  url: string;
  connections: number;
  tls: { ca: string | null; rejectUnauthorized: boolean };
}

const { url, connections, tls } = workerData as MailerSettings;
// The URL's own query options (secure, requireTLS, tls.servername, ...) win over these, as nodemailer merges them.
const transport = nodemailer.createTransport({
  url,
  pool: true,
  maxConnections: connections,
  // nodemailer's default (100) closes a connection after its hundredth message, and the next send
  // waits for a new one: connect, greeting (a greet pause, smtp-server's is 100 ms), EHLO, STARTTLS,
  // AUTH. At one trigger at a time that was the p99 of request-to-inbox (docs/performance-log.md, issue
  // 11). A connection is kept until the server or the idle timeout closes it; a server that caps
  // messages per connection is served by `?maxMessages=N` in SALVO_SMTP_URL (docs/configuration.md).
  maxMessages: Infinity,
  connectionTimeout: 10_000,
  greetingTimeout: 10_000,
  socketTimeout: 30_000,
  tls: { rejectUnauthorized: tls.rejectUnauthorized, ...(tls.ca ? { ca: tls.ca } : {}) },
});

parentPort!.on('message', (job: MailJob | 'close') => {
  if (job === 'close') {
    transport.close();
    parentPort!.close();
    return;
  }
  transport.sendMail(job.mail as never).then(
    (info) => parentPort!.postMessage({ id: job.id, response: String(info.response) } satisfies MailResult),
    (e: MailError) =>
      parentPort!.postMessage({ id: job.id, error: { message: e.message, code: e.code, responseCode: e.responseCode, response: e.response, command: e.command, permanent: e.permanent } } satisfies MailResult),
  );
});
