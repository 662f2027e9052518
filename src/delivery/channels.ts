/**
 * Channels send rendered messages. Email goes over SMTP when SALVO_SMTP_URL is set (nodemailer, in a
 * worker thread: MIME building and the SMTP conversation cost more than all the rest of a send) and
 * is otherwise captured in the outbox, as the MIME text SMTP would have carried. SMS and push have no
 * provider yet: they are captured in the outbox too.
 */
import nodemailer from 'nodemailer';
import type { Attachment } from '../core/attachments.ts';
import type { EmailMessage, RenderedMessage } from '../core/message.ts';
import type { Message } from '../core/types.ts';
import type { Config } from '../config.ts';
import type { Store } from '../store/store.ts';
import { Worker } from 'node:worker_threads';
import type { MailJob, MailResult } from './mailer-thread.ts';

export interface SendContext {
  message: Message;
  attachments: Attachment[];
}

export interface Channel {
  /** Resolves when the message is handed over; rejects with the transport's error otherwise. */
  send(m: RenderedMessage, ctx: SendContext): Promise<{ detail: string }>;
  close(): Promise<void>;
}

/** The nodemailer message for an email: the same for SMTP and for the outbox. */
function mailOf(m: EmailMessage, ctx: SendContext) {
  const { message } = ctx;
  const domain = m.from.email.split('@')[1] ?? 'salvo.local';
  return {
    from: { name: m.from.name ?? '', address: m.from.email },
    to: m.to,
    ...(m.replyTo ? { replyTo: { name: m.replyTo.name ?? '', address: m.replyTo.email } } : {}),
    subject: m.subject,
    ...(m.html !== undefined ? { html: m.html } : {}),
    ...(m.text !== undefined ? { text: m.text } : {}),
    attachments: ctx.attachments.map((a) => ({ filename: a.name, content: a.data, contentType: a.mime })),
    messageId: `<salvo.${message.id}.${message.launch_id}@${domain}>`,
    headers: { 'X-Salvo-Message-Id': String(message.id), 'X-Salvo-Launch-Id': String(message.launch_id) },
  };
}

/**
 * The mailer thread's heap: it holds a few messages at a time, and V8's default young generation
 * would let its resident memory grow by tens of MB for nothing (measured: docs/performance.md).
 */
const LIMITS = { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 128 };

/** The mailer thread's module: built beside the bundle, or the TypeScript source under tests (through tsx). */
function startMailerThread(config: Config): Worker {
  const built = new URL('./mailer-thread.mjs', import.meta.url);
  const data = { url: config.smtpUrl!, connections: config.smtpPool };
  if (import.meta.url.endsWith('.mjs')) return new Worker(built, { workerData: data, resourceLimits: LIMITS });
  // A worker does not inherit the tsx loader: register it there before importing the TypeScript.
  const source = new URL('./mailer-thread.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(source)}); });`, { eval: true, workerData: data });
}

export function smtpChannel(config: Config): Channel {
  const thread = startMailerThread(config);
  thread.unref();
  let next = 0;
  const waiting = new Map<number, { resolve: (r: { detail: string }) => void; reject: (e: unknown) => void }>();
  thread.on('message', (r: MailResult) => {
    const w = waiting.get(r.id);
    waiting.delete(r.id);
    if (!w) return;
    if ('error' in r) w.reject(Object.assign(new Error(r.error.message), r.error));
    else w.resolve({ detail: `accepted by SMTP: ${r.response}` });
  });
  thread.on('error', (e) => {
    for (const w of waiting.values()) w.reject(e);
    waiting.clear();
  });
  return {
    send(m, ctx) {
      if (m.channel !== 'email') return Promise.reject(Object.assign(new Error(`the SMTP channel sends email, not ${m.channel}`), { permanent: true }));
      const id = ++next;
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject });
        thread.postMessage({ id, mail: mailOf(m, ctx) } satisfies MailJob);
      });
    },
    async close() {
      thread.postMessage('close');
      await new Promise((r) => thread.once('exit', r));
    },
  };
}

export function outboxChannel(store: Store): Channel {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true });
  return {
    async send(m, ctx) {
      const attachments = ctx.attachments.map((a) => ({ name: a.name, mime: a.mime, size: a.data.length }));
      const base = { message_id: ctx.message.id, channel: m.channel, recipient: m.to };
      if (m.channel === 'email') {
        const info = await composer.sendMail(mailOf(m, ctx));
        await store.insertOutbox(
          { ...base, sender: m.from.email, subject: m.subject, body: m.text ?? null, html: m.html ?? null, extra: { attachments }, raw: (info.message as Buffer).toString('utf8') },
          Date.now(),
        );
      } else if (m.channel === 'sms') {
        await store.insertOutbox({ ...base, sender: m.sender ?? null, subject: null, body: m.text, html: null, extra: {}, raw: null }, Date.now());
      } else {
        await store.insertOutbox(
          { ...base, sender: null, subject: m.title, body: m.body, html: null, extra: { provider: m.provider, url: m.url ?? null, icon: m.icon ?? null }, raw: null },
          Date.now(),
        );
      }
      return { detail: 'captured in the outbox' };
    },
    async close() {},
  };
}

/** The channel each kind of message takes in this configuration. */
export function channelsFor(config: Config, store: Store): Record<RenderedMessage['channel'], Channel> {
  const outbox = outboxChannel(store);
  return { email: config.smtpUrl ? smtpChannel(config) : outbox, sms: outbox, push: outbox };
}
