/**
 * Channels send rendered messages. Email goes over SMTP when SALVO_SMTP_URL is set (smtp-channel.ts)
 * and is otherwise captured in the outbox, as the MIME text SMTP would have carried. SMS goes through
 * the provider its resource names (sms/index.ts: SMPP or an HTTP gateway); push through the provider
 * its subscription and the resource's settings choose (push/index.ts); either goes to the outbox when
 * the resource has no provider for it.
 */
import type { FastifyBaseLogger } from 'fastify';
import nodemailer from 'nodemailer';
import type { Attachment } from '../core/attachments.ts';
import type { RenderedMessage } from '../core/message.ts';
import type { Message, Resource, Subscription } from '../core/types.ts';
import type { Config } from '../config.ts';
import type { NewOutboxEntry } from '../store/queries/outbox.ts';
import type { OutboxStore, Store } from '../store/store.ts';
import { mailOf } from './mail.ts';
import { PushChannel } from './push/index.ts';
import { SmsChannel } from './sms/index.ts';
import { SmtpChannel } from './smtp-channel.ts';
import { WriteBatch } from './write-batch.ts';

export interface SendContext {
  message: Message;
  attachments: Attachment[];
  /** The campaign's resource: SMS and push choose their provider from its settings. */
  resource: Resource;
  /** The subscription sent to (push: its provider and keys choose Web Push, FCM or APNs). */
  subscription: Subscription;
}

export interface SendResult {
  detail: string;
  /** Kept in the outbox, not handed to a provider: the message ends `captured`, not `sent`. */
  captured?: boolean;
  providerMessageId?: string;
  smsParts?: string[];
  /** The SMSC that took the parts (core/sms-receipt.ts smscKey): receipts are matched by it and the part's id. */
  smsc?: string;
}

export interface Channel {
  /**
   * Resolves when the message is handed over; rejects with the transport's error otherwise (providers
   * other than SMTP reject with a ProviderError). `detail` goes into the message history as the
   * provider's answer; `providerMessageId` is the provider's id for the message (SMPP message_id), kept
   * so that delivery receipts can find the message; `smsParts` the SMSC's id of each part of an SMS
   * (receipts come per part), `smsc` the SMSC that numbered them.
   */
  send(m: RenderedMessage, ctx: SendContext): Promise<SendResult>;
  close(): Promise<void>;
}

function outboxChannel(store: Pick<OutboxStore, 'insertOutboxEntries'>): Channel {
  const composer = nodemailer.createTransport({ streamTransport: true, buffer: true });
  // Captures that end together are written together (one statement on PostgreSQL), each send answered once its row is in.
  const captured = new WriteBatch<NewOutboxEntry, true>(async (items) => {
    await store.insertOutboxEntries(items.map(({ item }) => item), Date.now());
    return new Map(items.map(({ id }) => [id, true]));
  });
  return {
    async send(m, ctx) {
      const attachments = ctx.attachments.map((a) => ({ name: a.name, mime: a.mime, size: a.data.length }));
      const base = { message_id: ctx.message.id, channel: m.channel, recipient: m.to };
      let entry: NewOutboxEntry;
      if (m.channel === 'email') {
        const info = await composer.sendMail(mailOf(m, ctx));
        entry = { ...base, sender: m.from.email, subject: m.subject, body: m.text ?? null, html: m.html ?? null, extra: { attachments }, raw: (info.message as Buffer).toString('utf8') };
      } else if (m.channel === 'sms') {
        entry = { ...base, sender: m.sender ?? null, subject: null, body: m.text, html: null, extra: {}, raw: null };
      } else {
        entry = { ...base, sender: null, subject: m.title, body: m.body, html: null, extra: { provider: m.provider, url: m.url ?? null, icon: m.icon ?? null }, raw: null };
      }
      await captured.add(ctx.message.id, entry);
      return { detail: 'captured in the outbox', captured: true };
    },
    async close() {},
  };
}

export type Channels = Record<RenderedMessage['channel'], Channel> & { smtp: SmtpChannel | null };

/** The channel each kind of message takes in this configuration. */
export function channelsFor(config: Config, store: Store, log: FastifyBaseLogger): Channels {
  const outbox = outboxChannel(store);
  const smtp = config.smtpUrl
    ? new SmtpChannel({ url: config.smtpUrl, connections: config.smtpPool, tls: config.smtpTls, heapMb: config.mailerHeapMb, sendTimeoutMs: config.sendTimeoutMs, log })
    : null;
  return { email: smtp ?? outbox, sms: new SmsChannel({ outbox, store, log, responseTimeoutMs: config.smppTimeoutMs, denyPrivate: config.egress.denyPrivate }),
    push: new PushChannel(outbox, config.sendTimeoutMs, config.egress.denyPrivate),
    smtp,
  };
}
