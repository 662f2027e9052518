/** The nodemailer message for an email: the same for SMTP and for the outbox. */
import type { EmailMessage } from '../core/message.ts';
import type { SendContext } from './channels.ts';

export function mailOf(m: EmailMessage, ctx: SendContext) {
  const { message } = ctx;
  // The key travels with each message (to the mailer thread too): signing follows the resource's settings as they are now.
  const dkim = ctx.resource.email?.dkim;
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
    headers: { ...m.headers, 'X-Salvo-Message-Id': String(message.id), 'X-Salvo-Launch-Id': String(message.launch_id) },
    // Bounces go to the message's own signed address (VERP), read by the bounce listener.
    ...(m.returnPath ? { envelope: { from: m.returnPath, to: m.to } } : {}),
    ...(dkim ? { dkim: { domainName: dkim.domain, keySelector: dkim.selector, privateKey: dkim.private_key } } : {}),
  };
}
