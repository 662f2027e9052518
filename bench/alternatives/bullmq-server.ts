/**
 * The alternative on Redis: Fastify + BullMQ (common.ts), as BullMQ's guide sets it up: a Queue for
 * the route, a Worker with `concurrency`, `attempts` with exponential backoff, finished jobs removed.
 * Profiles are read from a copy of the bench's SQLite database (the team's own database).
 * `queue.add` answers once Redis has run the job's script: durable as far as Redis's persistence
 * setting goes. The scenario runs a Redis of its own with appendonly yes, appendfsync everysec (a
 * killed Redis loses nothing, a power cut up to a second: as SQLite's WAL with synchronous=NORMAL
 * under Salvo), on ALT_REDIS_PORT, and prints the setting beside the figures.
 * ALT_WORKER=0 runs the route alone (the drain figure fills the queue first).
 */
import Database from 'better-sqlite3';
import { Queue, Worker } from 'bullmq';
import { acceptRoute, ATTEMPTS, type Job, mailer, SEND_CONCURRENCY } from './common.ts';

const env = process.env as Record<string, string>;
const connection = { host: '127.0.0.1', port: Number(env.ALT_REDIS_PORT ?? 6379), maxRetriesPerRequest: null };
const db = new Database(env.ALT_DB_FILE, { readonly: true });
const findProfile = db.prepare('SELECT data FROM profiles WHERE db_id = ? AND email = ?');
const dbId = Number(env.ALT_DB_ID);

const queue = new Queue<Job>(env.ALT_QUEUE, { connection });
if (env.ALT_WORKER !== '0') {
  const mail = mailer(env.ALT_SMTP_URL);
  new Worker<Job>(env.ALT_QUEUE, (job) => mail.send(job.id!, job.data), { connection, concurrency: SEND_CONCURRENCY, removeOnComplete: { count: 0 } });
}
const app = acceptRoute(
  async (email) => {
    const row = findProfile.get(dbId, email) as { data: string } | undefined;
    return row ? JSON.parse(row.data) : null;
  },
  async (job) => (await queue.add('send', job, { attempts: ATTEMPTS, backoff: { type: 'exponential', delay: 1000 }, removeOnComplete: true })).id!,
);
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on ${url}`);
