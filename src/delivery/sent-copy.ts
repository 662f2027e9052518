/** The copy of a sent message kept for messages/get (core/sent-copy.ts), taken from what the channel was handed. */
import type { RenderedMessage } from '../core/message.ts';
import { emailCopy, pushCopy, type SentCopy, smsCopy } from '../core/sent-copy.ts';
import type { SendContext, SendResult } from './channels.ts';
import { mailOf } from './mail.ts';

/**
 * The email's copy is read off the same nodemailer message the channel sent (mail.ts), so that its
 * Message-ID and headers are those that went out. Null when SALVO_KEEP_BODY keeps no bodies.
 */
export function sentCopyOf(m: RenderedMessage, ctx: SendContext, result: SendResult, textLimit: number): SentCopy | null {
  if (textLimit <= 0) return null;
  if (m.channel === 'sms') return smsCopy(m, result.smsParts?.length ?? 0);
  if (m.channel === 'push') return pushCopy(m);
  const mail = mailOf(m, ctx);
  const attachments = ctx.attachments.map((a) => ({ name: a.name, mime: a.mime, size: a.data.length }));
  const dkim = mail.dkim ? { domain: mail.dkim.domainName, selector: mail.dkim.keySelector } : null;
  return emailCopy(m, { 'Message-ID': mail.messageId, ...mail.headers }, attachments, dkim, textLimit);
}
