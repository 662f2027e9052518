/**
 * What the two alternatives (bullmq-server.ts, graphile-server.ts) share: the program a team writes
 * instead of adopting Salvo. A Fastify route that checks the token, reads the profile, enqueues a job
 * and answers once the queue has it; a worker that renders the campaign's template and sends with
 * nodemailer, 8 jobs at a time over 5 pooled SMTP connections (Salvo's defaults: SALVO_WORKERS,
 * SALVO_SMTP_POOL), and lets the queue retry a failed send. The template is Salvo's (bench/lib/world.ts),
 * rendered by the same renderer, so both sides render the same bytes.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import nodemailer from 'nodemailer';
import { renderTemplate } from '../../src/core/template/render.ts';
import { compileTemplate } from '../../src/core/templates.ts';
import { TOKEN } from '../lib/load.ts';
import { TEMPLATE } from '../lib/world.ts';

export interface Job {
  email: string;
  lead: Record<string, unknown>;
  content: Record<string, unknown>;
}

export const SEND_CONCURRENCY = 8;
const SMTP_CONNECTIONS = 5;
/** Attempts of one job before the queue gives up, with exponential backoff from 1 s. */
export const ATTEMPTS = 10;

const subject = compileTemplate(TEMPLATE.subject);
const html = compileTemplate(TEMPLATE.html);
const text = compileTemplate(TEMPLATE.text);

/** The worker's send: render and hand to the pooled transport; a rejection makes the queue retry. */
export function mailer(url: string): { send(id: string, job: Job): Promise<void>; close(): void } {
  const transport = nodemailer.createTransport({ url, pool: true, maxConnections: SMTP_CONNECTIONS, maxMessages: Infinity });
  return {
    async send(id, job) {
      const ctx = { lead: job.lead, apicontent: job.content, subscription: null, subscriptions: [] };
      await transport.sendMail({
        from: { name: 'Bench', address: 'news@bench.example' },
        to: job.email,
        subject: renderTemplate(subject, ctx),
        html: renderTemplate(html, ctx, { html: true }),
        text: renderTemplate(text, ctx),
        headers: { 'X-Bench-Id': id },
      });
    },
    close: () => transport.close(),
  };
}

/**
 * The accept route: `find` reads the profile's data by email, `enqueue` answers the job's id once the
 * job is stored. Answers Altcraft's envelope and the id in a `launch-id` header, as Salvo does.
 */
export function acceptRoute(find: (email: string) => Promise<Record<string, unknown> | null>, enqueue: (job: Job) => Promise<string>): FastifyInstance {
  const app = Fastify({ logger: false });
  app.post('/api/v1.1/campaigns/triggers/start', async (req, reply) => {
    const body = req.body as { token?: string; email?: string; content?: Record<string, unknown> };
    if (body.token !== TOKEN) return reply.code(403).send({ data: null, error: 403, error_text: 'bad token' });
    if (typeof body.email !== 'string') return reply.code(400).send({ data: null, error: 400, error_text: 'email is required' });
    const lead = await find(body.email);
    if (!lead) return reply.code(404).send({ data: null, error: 404, error_text: 'no profile' });
    const id = await enqueue({ email: body.email, lead, content: body.content ?? {} });
    reply.header('launch-id', id);
    return { data: null, error: 0, error_text: 'Successful operation' };
  });
  return app;
}
