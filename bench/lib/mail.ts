/** The baseline sender: nodemailer, pooled like Salvo, sending ready messages to the sink. */
import nodemailer from 'nodemailer';
import { renderTemplate } from '../../src/core/template/render.ts';
import { compileTemplate } from '../../src/core/templates.ts';
import { TEMPLATE } from './world.ts';

/** The message Salvo would send to profile i, rendered once, with a bench id header. */
export function preparedMessage(i: number, to: string, id: string) {
  const ctx = { lead: { _fname: `User${i}` }, apicontent: { title: 'Hello' }, subscription: null, subscriptions: [] };
  return {
    from: { name: 'Bench', address: 'news@bench.example' },
    to,
    subject: renderTemplate(compileTemplate(TEMPLATE.subject), ctx),
    html: renderTemplate(compileTemplate(TEMPLATE.html), ctx, { html: true }),
    text: renderTemplate(compileTemplate(TEMPLATE.text), ctx),
    headers: { 'X-Bench-Id': id },
  };
}

/** Pooled as Salvo's mailer thread pools (src/delivery/mailer-thread.ts): `connections` kept, each for as long as the server keeps it. */
export function baselineTransport(url: string, connections: number) {
  return nodemailer.createTransport({ url, pool: true, maxConnections: connections, maxMessages: Infinity });
}
