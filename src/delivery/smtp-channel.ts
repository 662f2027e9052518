/**
 * Email over SMTP: nodemailer in a worker thread (MIME building and the SMTP conversation cost more
 * than all the rest of a send), supervised. A thread that dies (out of memory, a crash) or stops
 * answering is replaced, and the sends that were in it are rejected as crashed.
 *
 * Which of several sends in flight killed a thread cannot be told, so none is blamed: each becomes a
 * suspect, and a suspect is sent again alone (the thread otherwise idle). A crash during a lone send
 * is that message's doing: the dispatcher counts it, and a message that kills every thread it enters
 * ends failed (core/outcome.ts) without taking innocent messages down with it.
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

/** A send lost with the thread that was doing it; `alone` when it was the only send in flight. */
export class ThreadCrashError extends Error {
  readonly crashed = true;
  readonly code = 'ETHREADCRASH';
  constructor(
    message: string,
    readonly alone: boolean,
  ) {
    super(message);
  }
}

/** Suspects remembered at most (ids of messages retried elsewhere would otherwise pile up). */
const MAX_SUSPECTS = 10_000;

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
  messageId: number;
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
  /** Messages that were in a thread that died alongside others: each is sent again alone. */
  private readonly suspects = new Set<number>();
  /** While a suspect is being sent, other sends wait for it. */
  private exclusive: Promise<unknown> | null = null;
  private idleWaiters: (() => void)[] = [];
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
      this.settled(r.id, w);
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
    const lost = [...this.waiting.entries()];
    const alone = lost.length === 1;
    for (const [id, w] of lost) {
      this.settled(id, w);
      this.suspect(w.messageId);
      const text = alone ? `mailer thread died: ${why}` : `mailer thread died with ${lost.length} sends in flight (${why}); it will be sent again alone`;
      w.reject(new ThreadCrashError(text, alone));
    }
    // A thread that dies within a second of starting would otherwise restart in a tight loop.
    this.quickDeaths = Date.now() - this.startedAt < 1000 ? this.quickDeaths + 1 : 0;
    const delay = this.quickDeaths ? Math.min(30_000, 100 * 2 ** this.quickDeaths) : 0;
    this.o.log.error({ why, inFlight: lost.length, restartInMs: delay }, 'the mailer thread died; its sends will be retried');
    setTimeout(() => this.closing || this.spawn(), delay).unref();
  }

  private suspect(messageId: number): void {
    this.suspects.delete(messageId);
    this.suspects.add(messageId);
    if (this.suspects.size > MAX_SUSPECTS) this.suspects.delete(this.suspects.values().next().value!);
  }

  private settled(id: number, w: Pending): void {
    this.waiting.delete(id);
    clearTimeout(w.timer);
    if (this.waiting.size === 0) for (const idle of this.idleWaiters.splice(0)) idle();
  }

  async send(m: RenderedMessage, ctx: SendContext): Promise<{ detail: string }> {
    if (m.channel !== 'email') throw Object.assign(new Error(`the SMTP channel sends email, not ${m.channel}`), { permanent: true });
    while (this.exclusive) await this.exclusive.catch(() => {});
    const id = ctx.message.id;
    if (!this.suspects.has(id)) return this.post(m, ctx);
    const alone = (async () => {
      while (this.waiting.size) await new Promise<void>((r) => this.idleWaiters.push(r));
      return this.post(m, ctx);
    })();
    this.exclusive = alone;
    try {
      const result = await alone;
      this.suspects.delete(id);
      return result;
    } catch (e) {
      // Refused by the server: the thread survived it. A crash keeps it a suspect: its next try is alone too.
      if (!(e instanceof ThreadCrashError)) this.suspects.delete(id);
      throw e;
    } finally {
      if (this.exclusive === alone) this.exclusive = null;
    }
  }

  /** The running thread; while one is being restarted, waits for it (up to the send timeout). */
  private async running(): Promise<Worker | null> {
    const deadline = Date.now() + this.o.sendTimeoutMs;
    while (!this.thread && !this.closing && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.thread;
  }

  private async post(m: RenderedMessage & { channel: 'email' }, ctx: SendContext): Promise<{ detail: string }> {
    const thread = this.thread ?? (await this.running());
    // Not a crash of this message's making: a plain transient failure, retried with backoff.
    if (!thread) throw new Error(`the mailer thread is restarting after: ${this.lastCrash}`);
    const id = ++this.next;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.o.log.warn({ message: ctx.message.id, timeoutMs: this.o.sendTimeoutMs }, 'a send got no answer from the mailer thread; replacing the thread');
        this.died(thread, `no answer to a send within ${this.o.sendTimeoutMs / 1000} s`);
      }, this.o.sendTimeoutMs);
      this.waiting.set(id, { messageId: ctx.message.id, resolve, reject, timer });
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
