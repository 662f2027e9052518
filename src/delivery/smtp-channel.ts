/**
 * Email over SMTP: nodemailer in a worker thread (MIME building and the SMTP conversation cost more
 * than all the rest of a send), supervised. A thread that dies (out of memory, a crash) or stops
 * answering is replaced; the sends that were in it are rejected as crashed, so the dispatcher charges
 * them an attempt and a message that kills every thread it enters ends (core/outcome.ts).
 */
import { Worker } from 'node:worker_threads';
import type { Channel, SendContext } from './channels.ts';
import { mailOf } from './mail.ts';
import type { MailJob, MailResult } from './mailer-thread.ts';
import type { RenderedMessage } from '../core/message.ts';

export interface SmtpChannelOptions {
  url: string;
  connections: number;
  /** The thread's old-generation heap, in MB: a send that needs more kills the thread, not the process. */
  heapMb: number;
  /** A send with no answer after this long means the thread hangs: it is replaced. */
  sendTimeoutMs: number;
  log: { error(o: object, msg: string): void; warn(o: object, msg: string): void };
}

/** A send lost with the thread that was doing it. */
export class ThreadCrashError extends Error {
  readonly crashed = true;
  readonly code = 'ETHREADCRASH';
}

/** The module the thread runs: built beside the bundle, or the TypeScript source under tests (through tsx). */
function startMailerThread(o: SmtpChannelOptions): Worker {
  // V8's default young generation would let the thread's resident memory grow by tens of MB for
  // nothing (measured: docs/performance.md); the old generation is the configured bound.
  const options = { workerData: { url: o.url, connections: o.connections }, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: o.heapMb } };
  if (import.meta.url.endsWith('.mjs')) return new Worker(new URL('./mailer-thread.mjs', import.meta.url), options);
  // A worker does not inherit the tsx loader: register it there before importing the TypeScript.
  const source = new URL('./mailer-thread.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(source)}); });`, { ...options, eval: true });
}

interface Pending {
  resolve: (r: { detail: string }) => void;
  reject: (e: unknown) => void;
  timer: NodeJS.Timeout;
}

export class SmtpChannel implements Channel {
  private thread: Worker | null = null;
  private startedAt = 0;
  private quickDeaths = 0;
  private next = 0;
  private readonly waiting = new Map<number, Pending>();
  private closing = false;
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
    const t = startMailerThread(this.o);
    t.unref();
    this.thread = t;
    this.startedAt = Date.now();
    t.on('message', (r: MailResult) => {
      const w = this.waiting.get(r.id);
      if (!w) return;
      this.waiting.delete(r.id);
      clearTimeout(w.timer);
      if ('error' in r) w.reject(Object.assign(new Error(r.error.message), r.error));
      else w.resolve({ detail: `accepted by SMTP: ${r.response}` });
    });
    t.on('error', (e) => this.died(t, e.message));
    t.on('exit', (code) => this.died(t, `exited with code ${code}`));
  }

  /** The thread is gone: everything in it fails as crashed, and a new one starts (later, if it keeps dying at once). */
  private died(t: Worker, why: string): void {
    if (t !== this.thread || this.closing) return;
    this.thread = null;
    void t.terminate();
    this.restarts++;
    this.lastCrash = why;
    const lost = [...this.waiting.values()];
    this.waiting.clear();
    for (const w of lost) {
      clearTimeout(w.timer);
      w.reject(new ThreadCrashError(`mailer thread died: ${why}`));
    }
    // A thread that dies within a second of starting would otherwise restart in a tight loop.
    this.quickDeaths = Date.now() - this.startedAt < 1000 ? this.quickDeaths + 1 : 0;
    const delay = this.quickDeaths ? Math.min(30_000, 100 * 2 ** this.quickDeaths) : 0;
    this.o.log.error({ why, inFlight: lost.length, restartInMs: delay }, 'the mailer thread died; its sends will be retried');
    setTimeout(() => this.closing || this.spawn(), delay).unref();
  }

  send(m: RenderedMessage, ctx: SendContext): Promise<{ detail: string }> {
    if (m.channel !== 'email') return Promise.reject(Object.assign(new Error(`the SMTP channel sends email, not ${m.channel}`), { permanent: true }));
    const thread = this.thread;
    // Not a crash of this message's making: a plain transient failure, retried with backoff.
    if (!thread) return Promise.reject(new Error(`the mailer thread is restarting after: ${this.lastCrash}`));
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.o.log.warn({ id, timeoutMs: this.o.sendTimeoutMs }, 'a send got no answer from the mailer thread; replacing the thread');
        this.died(thread, `no answer to a send within ${this.o.sendTimeoutMs / 1000} s`);
      }, this.o.sendTimeoutMs);
      this.waiting.set(id, { resolve, reject, timer });
      thread.postMessage({ id, mail: mailOf(m, ctx) } satisfies MailJob);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
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
