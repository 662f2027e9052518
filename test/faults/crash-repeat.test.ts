/**
 * Issue 24, item 4: one crash must not send a whole audience twice. A `salvo serve` process is killed
 * with SIGKILL right after it wrote the launch (and its first page of messages) of a 3,000-profile custom_request start carrying a
 * Request-ID, before it answered; a new process gets the same request again. The repeat answers with
 * the launch already written (Duplicate-Request, its Launch-Id) and that launch is resumed: every
 * profile gets its mail, and duplicates stay within what was in flight at the kill, counted at a real
 * SMTP server.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { ensureBuilt, SALVO_BIN } from '../built.ts';
import { setupShop } from '../fixture.ts';
import { eventually, ok, startServer, TEST_TOKEN, tempDir } from '../helpers.ts';
import { startSmtp, type TestSmtp } from '../smtp.ts';

const AUDIENCE = 3_000;

/** `salvo serve` in a process of its own on the data directory, delivering to the test SMTP server. */
async function serve(dataDir: string, smtp: TestSmtp): Promise<{ child: ChildProcess; url: string; exited: Promise<unknown> }> {
  const child = spawn(process.execPath, [SALVO_BIN, 'serve', '--port', '0'], {
    env: { ...process.env, SALVO_DATA_DIR: dataDir, SALVO_SMTP_URL: smtp.url, SALVO_TOKEN: TEST_TOKEN, SALVO_LOG_LEVEL: 'warn', SALVO_POLL_MS: '50', npm_lifecycle_event: undefined },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /serving the API on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${out}`)));
  });
  return { child, url, exited };
}

const start = (url: string, body: unknown) =>
  fetch(`${url}/api/v1.1/campaigns/triggers/start`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${TEST_TOKEN}`, 'request-id': 'crash-repeat-1' },
    body: JSON.stringify(body),
  });

describe('a repeat after kill -9 mid-launch', () => {
  let smtp: TestSmtp;
  const tmp = tempDir();
  let campaign: number;
  const running: ChildProcess[] = [];

  before(async () => {
    await ensureBuilt();
    smtp = await startSmtp();
    // The shop and its 3,000 profiles, written by an in-process server that is then closed.
    const s = await startServer({ env: { SALVO_DATA_DIR: tmp.dir } });
    const shop = await setupShop(s);
    campaign = shop.campaigns.email;
    for (let b = 0; b < AUDIENCE; b += 1000) {
      const data = Array.from({ length: 1000 }, (_, i) => {
        const email = `crash${b + i}@example.com`;
        return { email, _fname: `P${b + i}`, Segment: 'crash', subscriptions: [{ resource_id: shop.resource, channel: 'email', email }] };
      });
      ok(await s.call('profiles/import_batch', { db_id: shop.db, data }));
    }
    await s.app.close();
  });
  after(async () => {
    for (const c of running) c.kill('SIGKILL');
    await smtp.close();
    tmp.remove();
  });

  it('answers with the launch already written and resumes it; duplicates within what was in flight', { timeout: 180_000 }, async (t) => {
    const body = { id: campaign, custom_request: { Segment: 'crash' }, content: { email_title: 'crash repeat' } };
    const file = path.join(tmp.dir, 'salvo.db');

    const first = await serve(tmp.dir, smtp);
    running.push(first.child);
    const reader = new Database(file, { readonly: true });
    const answered = start(first.url, body).then(
      (r) => `answered ${r.status}`,
      () => 'no answer',
    );
    // Killed the moment the launch's first page of messages is committed: the rest of its pages are
    // being written and the first mails are on their way.
    const started = Date.now();
    let launchId: number | undefined;
    while (launchId === undefined && Date.now() - started < 30_000) {
      launchId = (reader.prepare(`SELECT launch_id AS id FROM messages ORDER BY id DESC LIMIT 1`).get() as { id: number } | undefined)?.id;
      if (launchId === undefined) await sleep(2);
    }
    first.child.kill('SIGKILL');
    await first.exited;
    assert.ok(launchId, 'the launch was written before the kill');
    const firstAnswer = await answered;
    // What may be sent twice: messages handed to SMTP but not yet recorded as sent.
    const inFlight = (reader.prepare(`SELECT count(*) AS n FROM messages WHERE launch_id = ? AND status = 'sending'`).get(launchId) as { n: number }).n;
    const atKill = reader.prepare(`SELECT count(*) AS n FROM messages WHERE launch_id = ?`).get(launchId) as { n: number };
    t.diagnostic(`killed ${Date.now() - started} ms after the request (first request: ${firstAnswer}); launch ${launchId} had ${atKill.n} messages, ${inFlight} in flight, ${smtp.received.length} mails received`);

    const second = await serve(tmp.dir, smtp);
    running.push(second.child);
    const repeat = await start(second.url, body);
    const text = await repeat.text();
    assert.equal(repeat.status, 200, text);
    assert.equal(repeat.headers.get('duplicate-request'), 'true', 'the repeat is answered, not run again');
    assert.equal(repeat.headers.get('launch-id'), String(launchId), 'with the launch the first request wrote');

    await eventually(async () => new Set(smtp.received.filter((r) => r.mail.subject === 'crash repeat').flatMap((r) => r.to)).size === AUDIENCE, 120_000, 'every profile to get its mail');
    // The launch is done and nothing is left to send: then count what arrived.
    await eventually(async () => {
      const open = reader.prepare(`SELECT count(*) AS n FROM messages WHERE launch_id = ? AND status IN ('queued', 'sending')`).get(launchId) as { n: number };
      return open.n === 0;
    }, 60_000, 'every message of the launch to be final');
    await sleep(500);
    const launches = reader.prepare(`SELECT count(*) AS n FROM launches WHERE kind = 'start'`).get() as { n: number };
    const mails = smtp.received.filter((r) => r.mail.subject === 'crash repeat').length;
    t.diagnostic(`${mails} mails for ${AUDIENCE} profiles (${mails - AUDIENCE} duplicates, ${inFlight} were in flight at the kill); ${launches.n} launch(es)`);
    assert.equal(launches.n, 1, 'one launch, not a second one for the repeat');
    assert.ok(mails - AUDIENCE <= inFlight, `${mails - AUDIENCE} duplicates, more than the ${inFlight} in flight`);
    reader.close();
    second.child.kill('SIGTERM');
    await second.exited;
  });
});
