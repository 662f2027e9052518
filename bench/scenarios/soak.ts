/**
 * S. soak: mixed triggers at a steady rate against `salvo serve` for a long while, with faults
 * injected at spaced times: a 10 s SQLite write lock (PostgreSQL: its connections cut), a 5 s SMTP
 * outage, the lock (or cut) again, and a poison message that kills the mailer thread. Every mail
 * names its trigger and recipient in its subject, so the sink tells what was lost and what came twice.
 * Not in the default run: `npm run bench -- --only S` (10 minutes) or `-- --only S --quick` (2).
 */
import path from 'node:path';
import { RecordingClient } from '../lib/client.ts';
import { cutPostgresConnections, holdSqliteWriteLock, ownPostgresDatabase } from '../lib/faults.ts';
import { TOKEN } from '../lib/load.ts';
import { percentile, type Figure } from '../lib/report.ts';
import { startSalvo, type Child } from '../lib/server.ts';
import type { Sink } from '../lib/sink.ts';
import { createWorld, dropWorld } from '../lib/world.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WORKERS = 8; // SALVO_WORKERS' default; workers claim twice their number ahead
const LOCK_MS = 10_000;
const OUTAGE_MS = 5_000;
/**
 * 80 items: ~32 MB of HTML. The 40 first planned (~16 MB) went out whole through a 32 MB mailer heap
 * (nodemailer streams the encoding), so it killed nothing.
 */
const POISON_ITEMS = 80;

export interface SoakOptions {
  seconds: number;
  /** Trigger calls per second. */
  rate: number;
  profiles: number;
}

interface Trigger {
  tok: string;
  /** The subjects of the mails an acknowledged trigger must produce: one per recipient. */
  expected: string[];
  acked: boolean;
}

interface Fault {
  name: string;
  start: number;
  end: number;
  /** Subjects of the mails of every trigger acknowledged before the fault cleared. */
  owed: string[];
  /** The same, before it began. */
  owedAtStart: string[];
  detail: string;
}

export async function soak(kind: 'sqlite' | 'postgres', pgUrl: string | null, sink: Sink, o: SoakOptions): Promise<Figure[]> {
  const own = kind === 'postgres' ? await ownPostgresDatabase(pgUrl!, `salvo_soak_${process.pid}`) : null;
  const world = await createWorld(kind, o.profiles, own?.url ?? null);
  const env = { ...world.env, SALVO_SMTP_URL: sink.url, SALVO_TOKEN: TOKEN, SALVO_MAILER_HEAP_MB: '32', SALVO_RENDER_OUTPUT_LIMIT: '64mb' };
  sink.reset();
  sink.trackSubjects();

  // The server, watched: a death is counted, its last log lines kept, and it is started again (as a supervisor would).
  const deaths: string[] = [];
  const logTail: string[] = [];
  const logCounts = new Map<string, number>();
  let threadDeaths = 0;
  let threadInFlight = 0;
  let server!: Child;
  let stopping = false;
  const onLine = (line: string) => {
    logTail.push(line);
    if (logTail.length > 40) logTail.shift();
    let entry: { level?: number; msg?: string; inFlight?: number };
    try {
      entry = JSON.parse(line);
    } catch {
      entry = { msg: line.slice(0, 120) };
    }
    const key = `${entry.level ?? '?'} ${entry.msg ?? ''}`;
    logCounts.set(key, (logCounts.get(key) ?? 0) + 1);
    if (entry.msg?.includes('the mailer thread died')) {
      threadDeaths++;
      threadInFlight += entry.inFlight ?? 0;
    }
  };
  const launch = async () => {
    server = await startSalvo(env);
    server.onLine(onLine);
    const mine = server;
    mine.proc.on('exit', (code, signal) => {
      if (stopping) return;
      deaths.push(`exit ${code ?? signal} at ${elapsed()} s; last log lines:\n${logTail.slice(-15).join('\n')}`);
      void launch();
    });
  };
  let t0 = performance.now();
  const elapsed = () => ((performance.now() - t0) / 1000).toFixed(1);
  await launch();
  const client = new RecordingClient(() => server.url, TOKEN, { timeoutMs: 30_000, giveUpMs: 120_000 });
  const setup = async (method: string, body: Record<string, unknown>) => {
    const r = await client.call(method, body);
    if (r?.status !== 200) throw new Error(`soak set-up: ${method} answered ${r?.status}: ${JSON.stringify(r?.body)}`);
    return (r.body.data as { id: number }).id;
  };
  const campaignFor = async (name: string, subject: string, html: string) => {
    const template = await setup('templates/add', { name, channels: [{ sid: 'email', fields: { subject, html } }] });
    return setup('campaigns/triggers/add', { name, trigger_type: 'api_call', send_channel: 'email', resource_id: world.resourceId, db_id: world.dbId, content: [{ message_id: template }], is_active: true, skip_minutes: 0 });
  };
  const campaign = await campaignFor('soak', 'S {apicontent.tok} {lead._fname}', '<p>Hello {lead._fname},</p><p>{apicontent.tok}</p>');
  // POISON_ITEMS x 400,000 characters of HTML: more than a 32 MB mailer heap can turn into MIME.
  const poisonCampaign = await campaignFor('poison', 'P {apicontent.tok}', '{for i in apicontent.n}{apicontent.s}{end}');
  client.answers.clear();
  client.latencies.length = 0;

  const triggers: Trigger[] = [];
  const subjectOf = (tok: string, i: number) => `S ${tok} User${i}`;
  const profile = () => Math.floor(Math.random() * world.profiles);
  let repeats = 0;
  let repeatsSame = 0;
  const repeatFaults: string[] = [];

  /** One trigger: its call (or two, for a repeat), and what it owes once acknowledged. */
  async function fire(n: number): Promise<void> {
    const tok = `t${n}`;
    const content = { tok };
    let method = 'campaigns/triggers/start';
    let body: Record<string, unknown>;
    let expected: string[];
    if (n % 100 === 50) {
      const items = new Set<number>();
      while (items.size < 5) items.add(profile());
      method = 'campaigns/triggers/start_batch';
      body = { trigger_id: campaign, matching: 'email', data: [...items].map((i) => ({ email: world.email(i) })), content };
      expected = [...items].map((i) => subjectOf(tok, i));
    } else {
      const i = profile();
      body = { id: campaign, email: world.email(i), content };
      expected = [subjectOf(tok, i)];
    }
    const t: Trigger = { tok, expected, acked: false };
    triggers.push(t);
    // Half the calls name themselves with a Request-ID; the others are deduplicated by their body.
    const requestId = n % 2 === 0 ? `soak-${process.pid}-${n}` : undefined;
    const repeat = n % 20 === 7 ? 'after' : n % 50 === 13 ? 'together' : null;
    const calls = repeat === 'together' ? [client.call(method, body, requestId), client.call(method, body, requestId)] : [client.call(method, body, requestId)];
    if (repeat === 'after') calls.push(calls[0].then(() => client.call(method, body, requestId)));
    const answers = await Promise.all(calls);
    t.acked = answers.some((a) => a?.status === 200);
    if (!repeat || !t.acked) return;
    repeats++;
    const launches = new Set(answers.map((a) => a?.headers.get('launch-id')));
    if (answers.every((a) => a?.status === 200) && launches.size === 1) repeatsSame++;
    else if (repeatFaults.length < 5) repeatFaults.push(`${tok} (${repeat}): ${answers.map((a) => `${a?.status} launch ${a?.headers.get('launch-id')}`).join(', ')}`);
  }

  async function fanOut(n: number, segment: number): Promise<void> {
    const tok = `c${n}`;
    const expected: string[] = [];
    for (let i = segment; i < world.profiles; i += 10) expected.push(subjectOf(tok, i));
    const t: Trigger = { tok, expected, acked: false };
    triggers.push(t);
    const a = await client.call('campaigns/triggers/start', { id: campaign, custom_request: { Segment: segment }, content: { tok } }, `soak-${process.pid}-${tok}`);
    t.acked = a?.status === 200;
  }

  const owedNow = () => triggers.filter((t) => t.acked).flatMap((t) => t.expected);
  const faults: Fault[] = [];
  const poison = { sent: false, status: 'not sent', error: '', arrived: 0 };

  async function poisonFault(): Promise<Fault> {
    const owedAtStart = owedNow();
    const start = performance.now();
    const a = await client.call('campaigns/triggers/start', { id: poisonCampaign, email: world.email(0), content: { tok: 'poison', s: 'x'.repeat(400_000), n: Array.from({ length: POISON_ITEMS }, (_, i) => i) } }, `soak-${process.pid}-poison`);
    poison.sent = a?.status === 200;
    const before = threadDeaths;
    for (const deadline = performance.now() + 180_000; poison.sent && performance.now() < deadline; ) {
      const r = await client.call('messages/list', { campaign_id: poisonCampaign });
      const m = (r?.body.data as { status: string; last_error: string | null }[] | undefined)?.[0];
      if (m) {
        poison.status = m.status;
        poison.error = m.last_error ?? '';
      }
      if (m && (m.status === 'failed' || m.status === 'sent')) break;
      await sleep(500);
    }
    return { name: 'poison message (killed mailer thread)', start, end: performance.now(), owed: owedNow(), owedAtStart, detail: `answered ${a?.status}; ended ${poison.status}; ${threadDeaths - before} thread deaths logged` };
  }

  async function lockFault(): Promise<Fault> {
    const owedAtStart = owedNow();
    if (kind === 'sqlite') {
      const l = await holdSqliteWriteLock(path.join(world.dataDir, 'salvo.db'), LOCK_MS);
      return { name: `${LOCK_MS / 1000} s SQLite write lock`, start: l.start, end: l.end, owed: owedNow(), owedAtStart, detail: `taken after ${l.tries} tries` };
    }
    const start = performance.now();
    const cut = await cutPostgresConnections(own!.url);
    return { name: 'PostgreSQL connections cut', start, end: performance.now(), owed: owedNow(), owedAtStart, detail: `${cut.length} connections terminated (${[...new Set(cut)].join(', ')})` };
  }

  async function outageFault(): Promise<Fault> {
    const owedAtStart = owedNow();
    sink.refuse(true);
    const start = performance.now();
    await sleep(OUTAGE_MS);
    sink.refuse(false);
    return { name: `${OUTAGE_MS / 1000} s SMTP outage (421)`, start, end: performance.now(), owed: owedNow(), owedAtStart, detail: '' };
  }

  // RSS, sampled every second.
  const rssStart = server.rssMb();
  let rssPeak = rssStart;
  const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, server.rssMb())), 1000);

  // The run: triggers at a steady rate, at most 500 calls waiting at once; faults from 10, 30, 50 and 70 % of it.
  t0 = performance.now();
  const T = o.seconds * 1000;
  // The poison last: its three crashes, with the retry backoff between them, take a minute.
  const schedule: [number, () => Promise<Fault>][] = [
    [0.1, lockFault],
    [0.3, outageFault],
    [0.5, lockFault],
    [0.7, poisonFault],
  ];
  // One fault at a time: each waits for its time and for the one before it to clear.
  const faultRuns = (async () => {
    for (const [at, f] of schedule) {
      await sleep(t0 + at * T - performance.now());
      const x = await f();
      faults.push(x);
      console.log(`  S ${kind} ${elapsed()} s: ${x.name} cleared after ${((x.end - x.start) / 1000).toFixed(1)} s (${x.detail})`);
    }
  })();
  const pending = new Set<Promise<void>>();
  const track = (p: Promise<void>) => {
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const progress = setInterval(() => {
    const acked = triggers.filter((t) => t.acked).length;
    console.log(`  S ${kind} ${elapsed()} s: ${triggers.length} triggers, ${acked} acknowledged, answers ${JSON.stringify(Object.fromEntries(client.answers))}, ${sink.count} mails, ${pending.size} waiting, RSS ${server.rssMb().toFixed(0)} MB, ${deaths.length} deaths`);
  }, 30_000);
  let n = 0;
  const fanOuts = [0.2, 0.6].map((at) => Math.floor(at * o.seconds * o.rate));
  while (performance.now() - t0 < T) {
    await sleep(t0 + (n * 1000) / o.rate - performance.now());
    while (pending.size >= 500) await Promise.race(pending);
    track(fanOuts.includes(n) ? fanOut(n, n % 10) : fire(n));
    n++;
  }
  await Promise.all(pending);
  await faultRuns;
  const loadEnded = performance.now();
  console.log(`  S ${kind} ${elapsed()} s: load done; waiting for the sink`);

  // Drain: every acknowledged trigger's mails, then a while for late duplicates.
  const owed = owedNow();
  const missing = () => owed.filter((s) => !sink.subjects.has(s));
  for (const deadline = performance.now() + 300_000; missing().length > 0 && performance.now() < deadline; ) await sleep(200);
  const drainedAfter = (performance.now() - loadEnded) / 1000;
  await sleep(10_000);
  clearInterval(progress);
  clearInterval(sampler);
  const rssEnd = server.rssMb();
  const failedList = await client.call('messages/list', { campaign_id: campaign, status: 'failed', limit: 1000 });
  const failedMessages = ((failedList?.body.data as unknown[]) ?? []).length;
  stopping = true;
  await server.stop();
  poison.arrived = [...sink.subjects.keys()].filter((s) => s.startsWith('P ')).length;

  const acked = triggers.filter((t) => t.acked);
  const lostMails = missing();
  const lostSet = new Set(lostMails);
  const lostTriggers = acked.filter((t) => t.expected.some((s) => lostSet.has(s))).length;
  const owedSet = new Set(owed);
  let duplicates = 0;
  for (const s of owed) duplicates += Math.max(0, (sink.subjects.get(s)?.n ?? 0) - 1);
  const unowed = [...sink.subjects.entries()].filter(([s]) => s.startsWith('S ') && !owedSet.has(s)).reduce((x, [, a]) => x + a.n, 0);
  const storeFaults = faults.filter((f) => !f.name.startsWith('poison') && !f.name.includes('SMTP')).length;
  const bound = storeFaults * 2 * WORKERS + threadInFlight;
  const lat = [...client.latencies].sort((a, b) => a - b);
  const statuses = [...client.answers].sort().map(([k, v]) => `${k}: ${v}`).join(', ');
  await dropWorld(world);
  await own?.drop();

  const noteworthy = [...logCounts].filter(([k]) => !k.startsWith('30 ')).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([k, v]) => `${v}x "${k}"`).join('; ');
  console.log(`  S ${kind} server log (warn and above): ${noteworthy || 'nothing'}`);
  for (const d of deaths) console.log(`  S ${kind} process death: ${d}`);
  for (const r of client.refusals) console.log(`  S ${kind} refused: ${r}`);
  for (const r of repeatFaults) console.log(`  S ${kind} repeat not deduplicated: ${r}`);

  const s = 'S';
  const fig = (f: Omit<Figure, 'scenario' | 'store'>): Figure => ({ scenario: s, store: kind, ...f });
  return [
    fig({ name: 'answers', value: client.latencies.length, unit: 'answers', note: `${statuses}; ${client.retries} retries; ${acked.length} of ${triggers.length} triggers acknowledged; ${o.seconds} s at ${o.rate} calls/s` }),
    fig({ name: 'process deaths', value: deaths.length, unit: 'deaths', target: '0', met: deaths.length === 0 }),
    fig({ name: 'acknowledged triggers lost', value: lostTriggers, unit: 'triggers', target: '0', met: lostTriggers === 0, note: `${lostMails.length} of ${owed.length} owed mails missing${lostMails.length ? ` (e.g. ${lostMails.slice(0, 3).join(', ')})` : ''}; all owed delivered ${drainedAfter.toFixed(1)} s after the load ended` }),
    fig({ name: 'duplicates', value: duplicates, unit: 'mails', target: `<= ${bound}`, met: duplicates <= bound, note: `bound: ${2 * WORKERS} claimed sends per store fault (${storeFaults}) + ${threadInFlight} sends in the mailer thread when it died; ${unowed} mails of unacknowledged triggers` }),
    fig({ name: 'deduplicated repeats', value: repeatsSame, unit: 'repeats', target: `all ${repeats}`, met: repeatsSame === repeats, note: 'a repeat (same Request-ID or body) answered with the first launch' }),
    fig({ name: 'poison message', value: poison.status === 'failed' ? 1 : 0, unit: 'failed', target: 'failed, not delivered', met: poison.status === 'failed' && poison.arrived === 0, note: `${poison.status}; ${threadDeaths} mailer thread deaths logged; last error: ${poison.error.slice(0, 160) || 'none'}` }),
    fig({ name: 'failed messages (not the poison)', value: failedMessages, unit: 'messages', target: '0', met: failedMessages === 0 }),
    fig({ name: 'answer latency p50', value: percentile(lat, 50), unit: 'ms' }),
    fig({ name: 'answer latency p99', value: percentile(lat, 99), unit: 'ms', note: `max ${lat.length ? lat[lat.length - 1].toFixed(0) : '-'} ms` }),
    fig({ name: 'RSS at start', value: rssStart, unit: 'MB' }),
    fig({ name: 'RSS peak', value: rssPeak, unit: 'MB' }),
    fig({ name: 'RSS at end', value: rssEnd, unit: 'MB', note: '10 s after the last owed mail arrived' }),
    ...faults.sort((a, b) => a.start - b.start).map((f) => {
      const last = Math.max(f.end, ...f.owed.map((x) => sink.subjects.get(x)?.at ?? Infinity));
      const missed = f.owed.filter((x) => !sink.subjects.has(x)).length;
      const fromStart = (Math.max(f.start, ...f.owedAtStart.map((x) => sink.subjects.get(x)?.at ?? Infinity)) - f.start) / 1000;
      return fig({
        name: `after ${f.name} at ${((f.start - t0) / 1000).toFixed(0)} s: all before it delivered in`,
        value: missed ? NaN : (last - f.end) / 1000,
        unit: 's',
        note: `${f.owed.length} mails owed when it cleared${missed ? `, ${missed} never arrived` : ''}; fault lasted ${((f.end - f.start) / 1000).toFixed(1)} s; what was owed when it began was all delivered ${fromStart.toFixed(1)} s after it began${f.detail ? `; ${f.detail}` : ''}`,
      });
    }),
  ];
}
