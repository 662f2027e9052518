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
export type MailResult = { id: number; response: string } | { id: number; error: { message: string; code?: string; responseCode?: number; response?: string; permanent?: boolean } };

const { url, connections } = workerData as { url: string; connections: number };
const transport = nodemailer.createTransport({ url, pool: true, maxConnections: connections, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });

parentPort!.on('message', (job: MailJob | 'close') => {
  if (job === 'close') {
    transport.close();
    parentPort!.close();
    return;
  }
  transport.sendMail(job.mail as never).then(
    (info) => parentPort!.postMessage({ id: job.id, response: String(info.response) } satisfies MailResult),
    (e: { message: string; code?: string; responseCode?: number; response?: string; permanent?: boolean }) =>
      parentPort!.postMessage({ id: job.id, error: { message: e.message, code: e.code, responseCode: e.responseCode, response: e.response, permanent: e.permanent } } satisfies MailResult),
  );
});
