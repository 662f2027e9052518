/**
 * Channels send rendered messages. Email goes over SMTP when SALVO_SMTP_URL is set and is otherwise
 * captured in the outbox, as the MIME text SMTP would have carried. SMS and push have no provider
 * yet: they are captured in the outbox too.
 */
import nodemailer from 'nodemailer';
import type { Attachment } from '../core/attachments.ts';
import type { EmailMessage, RenderedMessage } from '../core/message.ts';
import type { Message } from '../core/types.ts';
import type { Config } from '../config.ts';
import type { Store } from '../store/store.ts';

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

export function smtpChannel(config: Config): Channel {
  const transport = nodemailer.createTransport({
    url: config.smtpUrl!,
    pool: true,
    maxConnections: config.smtpPool,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 30_000,
  });
  return {
    async send(m, ctx) {
      if (m.channel !== 'email') throw Object.assign(new Error(`the SMTP channel sends email, not ${m.channel}`), { permanent: true });
      const info = await transport.sendMail(mailOf(m, ctx));
      return { detail: `accepted by SMTP: ${info.response}` };
    },
    async close() {
      transport.close();
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
