/**
 * Scenario A's second baseline, the least a durable accept does: a bare Fastify route that parses the
 * same JSON, reads the profile by email and writes a launch and its queued message into a copy of the
 * bench's own SQLite database (Salvo's schema and indexes), group-committed per event-loop turn as
 * Salvo's driver does, answering after the commit. Nothing else: no token, validation, deduplication,
 * campaign rules, log line or delivery. Its throughput is the ceiling the store sets on this machine.
 */
import Database from 'better-sqlite3';
import Fastify from 'fastify';

const db = new Database(process.env.BASELINE_DB_FILE!);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('cache_size = -8000');
const dbId = Number(process.env.BASELINE_DB_ID);
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
function inGroup(run: () => number): Promise<number> {
  return new Promise((done) => {
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
}

const app = Fastify({ logger: false });
app.post('/api/v1.1/campaigns/triggers/start', async (req, reply) => {
  const body = req.body as { id: number; email: string; content: unknown };
  const profile = findProfile.get(dbId, body.email) as { id: string } | undefined;
  if (!profile) return reply.code(404).send({ data: null, error: 404, error_text: 'no profile' });
  const now = Date.now();
  const id = await inGroup(() => {
    const l = insertLaunch.get(body.id, JSON.stringify(body.content), now, now) as { id: number };
    insertMessage.run(l.id, body.id, profile.id, body.email, now, now, now);
    return l.id;
  });
  reply.header('launch-id', String(id));
  return { data: null, error: 0, error_text: 'Successful operation' };
});
const url = await app.listen({ port: 0, host: '127.0.0.1' });
console.log(`listening on ${url}`);
