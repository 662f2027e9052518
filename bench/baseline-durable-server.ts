/**
 * Scenario A's second baseline, the least a durable accept does: a bare Fastify route that parses the
 * same JSON, reads the profile by email and writes a launch and its queued message (Salvo's schema
 * and indexes), answering after the commit. Nothing else: no token, validation, deduplication,
 * campaign rules, log line or delivery. Its throughput is the ceiling the store sets on this machine.
 * SQLite (BASELINE_DB_FILE): a copy of the bench's database, writes group-committed per event-loop
 * turn as Salvo's driver does. PostgreSQL (BASELINE_PG_URL): the profile read, then one statement
 * writing both rows (as Salvo's launch does), into copies of the two tables (durable_launches,
 * durable_messages, made LIKE the real ones, indexes included), so nothing here is delivered.
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';
import postgres from 'postgres';

const dbId = Number(process.env.BASELINE_DB_ID);
type Accept = (campaignId: number, email: string, content: unknown) => Promise<number | null>;

function sqliteAccept(file: string): Accept {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -8000');
  const findProfile = db.prepare('SELECT id FROM profiles WHERE db_id = ? AND email = ?');
  const insertLaunch = db.prepare(
    "INSERT INTO launches (campaign_id, kind, state, content, total, created_at, updated_at) VALUES (?, 'start', 'done', ?, 1, ?, ?) RETURNING id",
  );
  const insertMessage = db.prepare(
    `INSERT INTO messages (launch_id, campaign_id, profile_id, channel, address, status, priority, attempts, next_attempt_at, history, created_at, updated_at)
     VALUES (?, ?, ?, 'email', ?, 'queued', 10, 0, ?, '[]', ?, ?)`,
  );
  type Job = { run: () => number; done: (id: number) => void };
  let group: Job[] | null = null;
  const inGroup = (run: () => number) =>
    new Promise<number>((done) => {
      if (!group) {
        group = [];
        setImmediate(() => {
          const jobs = group!;
          group = null;
          db.exec('BEGIN IMMEDIATE');
          const ids = jobs.map((j) => j.run());
          db.exec('COMMIT');
          for (const [i, j] of jobs.entries()) j.done(ids[i]);
        });
      }
      group.push({ run, done });
    });
  return async (campaignId, email, content) => {
    const profile = findProfile.get(dbId, email) as { id: string } | undefined;
    if (!profile) return null;
    const now = Date.now();
    return inGroup(() => {
      const l = insertLaunch.get(campaignId, JSON.stringify(content), now, now) as { id: number };
      insertMessage.run(l.id, campaignId, profile.id, email, now, now, now);
      return l.id;
    });
  };
}

async function postgresAccept(url: string): Promise<Accept> {
  const sql = postgres(url, { max: 10, onnotice: () => {} });
  await sql`DROP TABLE IF EXISTS durable_messages, durable_launches`;
  await sql`CREATE TABLE durable_launches (LIKE launches INCLUDING ALL)`;
  await sql`CREATE TABLE durable_messages (LIKE messages INCLUDING ALL)`;
  return async (campaignId, email, content) => {
    const [profile] = await sql`SELECT id FROM profiles WHERE db_id = ${dbId} AND email = ${email}`;
    if (!profile) return null;
    const now = Date.now();
    const [l] = await sql`
      WITH l AS (
        INSERT INTO durable_launches (campaign_id, kind, state, content, total, created_at, updated_at)
        VALUES (${campaignId}, 'start', 'done', ${JSON.stringify(content)}, 1, ${now}, ${now}) RETURNING id
      ), m AS (
        INSERT INTO durable_messages (launch_id, campaign_id, profile_id, channel, address, status, priority, attempts, next_attempt_at, history, created_at, updated_at)
        SELECT l.id, ${campaignId}, ${profile.id}, 'email', ${email}, 'queued', 10, 0, ${now}, '[]', ${now}, ${now} FROM l
      ) SELECT id FROM l`;
    return Number(l.id);
  };
}

const accept = process.env.BASELINE_PG_URL ? await postgresAccept(process.env.BASELINE_PG_URL) : sqliteAccept(process.env.BASELINE_DB_FILE!);
const app = Fastify({ logger: false });
app.post('/api/v1.1/campaigns/triggers/start', async (req, reply) => {
  const body = req.body as { id: number; email: string; content: unknown };
  const id = await accept(body.id, body.email, body.content);
  if (id === null) return reply.code(404).send({ data: null, error: 404, error_text: 'no profile' });
  reply.header('launch-id', String(id));
  return { data: null, error: 0, error_text: 'Successful operation' };
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on ${url}`);
