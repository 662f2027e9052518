/**
 * Email over SMTP: nodemailer in a worker thread (MIME building and the SMTP conversation cost more
 * than all the rest of a send), supervised. A thread that dies (out of memory, a crash) or stops
 * answering is replaced, and the sends that were in it are rejected as crashed. Sends enter the
 * thread up to two per pooled connection, so a connection that finishes starts its next message at
 * once rather than after a round trip through a busy main thread (measured: docs/performance-log.md,
 * scenario C). Each is timed from then, one that waits behind a send on every connection for twice
 * as long, so a slow server never makes the queue inside the thread look like a hang.
 *
 * Which of several sends in flight killed a thread cannot be told, so none is blamed: each becomes a
 * suspect, and a suspect is sent again alone (the thread otherwise idle). A crash during a lone send
 * is that message's doing: the dispatcher counts it, and a message that kills every thread it enters
 * ends failed (core/outcome.ts) without taking innocent messages down with it.
 */
import { Worker } from 'node:worker_threads';
import type { Channel, SendContext } from './channels.ts';
import { mailOf } from './mail.ts';
import type { MailerSettings, MailJob, MailResult } from './mailer-thread.ts';
import type { SmtpTls } from '../config.ts';
import type { RenderedMessage } from '../core/message.ts';

export interface SmtpChannelOptions {
  url: string;
  connections: number;
  tls: SmtpTls;
  /** The thread's old-generation heap, in MB: a send that needs more kills the thread, not the process. */
  heapMb: number;
  /** A send with no answer after this long means the thread hangs: it is replaced. */
  sendTimeoutMs: number;
  log: { error(o: object, msg: string): void; warn(o: object, msg: string): void };
}

/** A send lost with the thread that was doing it; `alone` when it was the only send in flight. */
class ThreadCrashError extends Error {
  readonly crashed = true;
  readonly code = 'ETHREADCRASH';
  constructor(
    message: string,
    readonly alone: boolean,
  ) {
    super(message);
  }
}

/**
 * Sends in the thread per pooled connection: one being sent, one waiting for the next free
 * connection. A deeper queue would only add sends lost (and retried alone) when a thread dies.
 */
const IN_THREAD_PER_CONNECTION = 2;

/** Suspects remembered at most (ids of messages retried elsewhere would otherwise pile up). */
const MAX_SUSPECTS = 10_000;

/** The module the thread runs: built beside the bundle, or the TypeScript source under tests (through tsx). */
function startMailerThread(o: SmtpChannelOptions): Worker {
  // V8's default young generation would let the thread's resident memory grow by tens of MB for
  // nothing (measured: docs/performance-log.md); the old generation is the configured bound.
  const options = { workerData: { url: o.url, connections: o.connections, tls: o.tls } satisfies MailerSettings, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: o.heapMb } };
  if (import.meta.url.endsWith('.mjs')) return new Worker(new URL('./mailer-thread.mjs', import.meta.url), options);
  // A worker does not inherit the tsx loader: register it there before importing the TypeScript.
  const source = new URL('./mailer-thread.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(source)}); });`, { ...options, eval: true });
}

/** A send waiting for a slot in the thread (queued), or in it (posted, timed). */
interface Job {
  mail: MailJob['mail'];
  messageId: number;
  resolve: (r: { detail: string }) => void;
  reject: (e: unknown) => void;
  timer?: NodeJS.Timeout;
}

export class SmtpChannel implements Channel {
  private thread: Worker | null = null;
  private startedAt = 0;
  private quickDeaths = 0;
  private next = 0;
  /** Sends waiting for a slot, first come first served. */
  private readonly queued: Job[] = [];
  /** Sends in the thread, by job id: at most IN_THREAD_PER_CONNECTION per pooled connection, each timed. */
  private readonly posted = new Map<number, Job>();
  /** A suspect is in the thread alone: nothing else goes in until it is answered. */
  private solo = false;
  private closing = false;
  /** Messages that were in a thread that died alongside others: each is sent again alone. */
  private readonly suspects = new Set<number>();
  /** Threads replaced since start (a metric and a /ready fact). */
  restarts = 0;
  lastCrash: string | null = null;

  constructor(private readonly o: SmtpChannelOptions) {
    this.spawn();
  }

  /** Whether a thread is running to take sends (false while a crash-looping thread waits to restart). */
  alive(): boolean {
    return this.thread !== null;
  }

  private spawn(): void {
    if (this.closing) return;
    let t: Worker;
    try {
      t = startMailerThread(this.o);
    } catch (e) {
      // Out of threads or memory: not worth the process. Try again later, like a thread that died at once.
      this.scheduleSpawn(`could not start: ${(e as Error).message}`, true);
      return;
    }
    t.unref();
    this.thread = t;
    this.startedAt = Date.now();
    t.on('message', (r: MailResult) => {
      const job = this.posted.get(r.id);
      if (!job) return;
      this.settle(r.id, job);
      if ('error' in r) job.reject(Object.assign(new Error(r.error.message), r.error));
      else {
        this.suspects.delete(job.messageId);
        job.resolve({ detail: `accepted by SMTP: ${r.response}` });
      }
    });
    t.on('error', (e) => this.died(t, e.message));
    t.on('exit', (code) => this.died(t, `exited with code ${code}`));
    this.pump();
  }

  private scheduleSpawn(why: string, quick: boolean): void {
    // A thread that dies within a second of starting would otherwise restart in a tight loop.
    this.quickDeaths = quick ? this.quickDeaths + 1 : 0;
    const delay = this.quickDeaths ? Math.min(30_000, 100 * 2 ** this.quickDeaths) : 0;
    this.o.log.error({ why, restartInMs: delay }, 'the mailer thread is down; restarting it');
    setTimeout(() => this.spawn(), delay).unref();
  }

  /** The thread is gone: what was in it fails as crashed (each one a suspect if not alone), and a new one starts. */
  private died(t: Worker, why: string): void {
    if (t !== this.thread || this.closing) return;
    this.thread = null;
    void t.terminate();
    this.restarts++;
    this.lastCrash = why;
    const lost = [...this.posted.entries()];
    const alone = lost.length === 1;
    for (const [id, job] of lost) {
      this.settle(id, job);
      this.suspect(job.messageId);
      const text = alone ? `mailer thread died: ${why}` : `mailer thread died with ${lost.length} sends in flight (${why}); it will be sent again alone`;
      job.reject(new ThreadCrashError(text, alone));
    }
    this.o.log.warn({ why, inFlight: lost.length }, 'the mailer thread died; its sends will be retried');
    this.scheduleSpawn(why, Date.now() - this.startedAt < 1000);
  }

  private suspect(messageId: number): void {
    this.suspects.delete(messageId);
    this.suspects.add(messageId);
    if (this.suspects.size > MAX_SUSPECTS) this.suspects.delete(this.suspects.values().next().value!);
  }

  private settle(id: number, job: Job): void {
    this.posted.delete(id);
    clearTimeout(job.timer);
    this.solo = false;
    this.pump();
  }

  send(m: RenderedMessage, ctx: SendContext): Promise<{ detail: string }> {
    if (m.channel !== 'email') return Promise.reject(Object.assign(new Error(`the SMTP channel sends email, not ${m.channel}`), { permanent: true }));
    if (this.closing) return Promise.reject(new Error('the mailer is closing'));
    return new Promise((resolve, reject) => {
      this.queued.push({ mail: mailOf(m, ctx), messageId: ctx.message.id, resolve, reject });
      this.pump();
    });
  }

  /** Moves queued sends into the thread: up to two per connection, a suspect only into an idle thread and alone. */
  private pump(): void {
    const thread = this.thread;
    while (thread && !this.solo && this.queued.length) {
      const job = this.queued[0];
      const isSuspect = this.suspects.has(job.messageId);
      if (isSuspect ? this.posted.size > 0 : this.posted.size >= this.o.connections * IN_THREAD_PER_CONNECTION) return;
      this.queued.shift();
      this.post(thread, job);
      if (isSuspect) this.solo = true;
    }
  }

  private post(thread: Worker, job: Job): void {
    const id = ++this.next;
    // Timed from here. With a connection free, only a stuck thread overruns the send timeout; a send
    // that waits behind one on every connection starts within one send's time, so it gets two.
    const timeoutMs = this.o.sendTimeoutMs * (this.posted.size < this.o.connections ? 1 : 2);
    job.timer = setTimeout(() => {
      this.o.log.warn({ message: job.messageId, timeoutMs }, 'a send got no answer from the mailer thread; replacing the thread');
      this.died(thread, `no answer to a send within ${timeoutMs / 1000} s`);
    }, timeoutMs);
    this.posted.set(id, job);
    thread.postMessage({ id, mail: job.mail } satisfies MailJob);
  }

  async close(): Promise<void> {
    this.closing = true;
    // Whatever has no answer yet is handed back by the dispatcher (these rejections are transient).
    for (const job of this.queued.splice(0)) job.reject(new Error('the mailer is closing'));
    for (const [id, job] of [...this.posted]) {
      this.posted.delete(id);
      clearTimeout(job.timer);
      job.reject(new Error('the mailer closed before the SMTP server answered'));
    }
    const t = this.thread;
    if (!t) return;
    const exited = new Promise((r) => t.once('exit', r));
    t.postMessage('close');
    // The thread ends once its pool is closed; one stuck in a send is ended after a moment.
    const timer = setTimeout(() => void t.terminate(), 2000);
    await exited;
    clearTimeout(timer);
  }
}
