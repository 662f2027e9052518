/**
 * The alternative on PostgreSQL: Fastify + graphile-worker (common.ts), as its documentation sets it
 * up: `run()` with a task list and `concurrency`, jobs added through the runner (`addJob`, which
 * answers after PostgreSQL committed the job: durable with the server's synchronous_commit), its
 * LISTEN/NOTIFY wake-up, its own retries with exponential backoff. Profiles are read from the bench's
 * PostgreSQL schema over the same pool. ALT_WORKER=0 adds jobs without working them (concurrency 0 is
 * not allowed, so no runner: WorkerUtils adds them).
 */
import { makeWorkerUtils, run } from 'graphile-worker';
import pg from 'pg';
import { acceptRoute, ATTEMPTS, type Job, mailer, SEND_CONCURRENCY } from './common.ts';

const env = process.env as Record<string, string>;
const pgPool = new pg.Pool({ connectionString: env.ALT_PG_URL, max: 12 });
const dbId = Number(env.ALT_DB_ID);
const schema = env.ALT_QUEUE;

let addJob: (job: Job) => Promise<string>;
if (env.ALT_WORKER !== '0') {
  const mail = mailer(env.ALT_SMTP_URL);
  const runner = await run({
    pgPool,
    schema,
    concurrency: SEND_CONCURRENCY,
    noHandleSignals: false,
    taskList: { send: (payload, helpers) => mail.send(String(helpers.job.id), payload as Job) },
  });
  addJob = async (job) => String((await runner.addJob('send', job, { maxAttempts: ATTEMPTS })).id);
} else {
  const utils = await makeWorkerUtils({ pgPool, schema });
  await utils.migrate();
  addJob = async (job) => String((await utils.addJob('send', job, { maxAttempts: ATTEMPTS })).id);
}
const app = acceptRoute(async (email) => {
  const { rows } = await pgPool.query('SELECT data FROM profiles WHERE db_id = $1 AND email = $2', [dbId, email]);
  return rows[0] ? (typeof rows[0].data === 'string' ? JSON.parse(rows[0].data) : rows[0].data) : null;
}, addJob);
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on ${url}`);
