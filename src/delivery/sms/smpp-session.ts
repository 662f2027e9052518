/**
 * One bound SMPP 3.4 transceiver session to an SMSC, kept up for as long as its resource uses it:
 * bind_transceiver, reconnect with backoff (250 ms doubling to 30 s, jittered) after a drop or a
 * refused bind, enquire_link keep-alive (a link that does not answer one is dropped and rebound), and a
 * window of submit_sm awaiting their submit_sm_resp.
 *
 * A submit that cannot be answered (the session drops, or no resp comes in time) rejects with a
 * transient ProviderError: the dispatcher retries it. The SMSC may have taken it, so a message can be
 * sent twice, at most once per submit that was in flight at the drop (docs/operations.md).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { LookupFunction } from 'node:net';
import smpp, { type PDU, type Session } from 'smpp';
import { EgressDenied } from '../egress.ts';
import { egressFailure } from '../http-client.ts';
import type { SmppEndpoint } from '../../core/resource-settings.ts';
import { ProviderError } from '../provider-error.ts';

export interface SmppSessionOptions {
  endpoint: SmppEndpoint;
  /** submit_sm awaiting their resp, at most. */
  window: number;
  systemType: string;
  enquireLinkMs: number;
  /** How long a submit_sm (or bind, or enquire_link) may wait for its resp. */
  responseTimeoutMs: number;
  /** How long a send waits for the session to be bound before it fails (transient). */
  bindWaitMs: number;
  /** Handles a deliver_sm; answers the command_status of its deliver_sm_resp. */
  onDeliver: (pdu: PDU) => Promise<number>;
  log: FastifyBaseLogger;
  /** For the log: which resource and where (never the password). */
  label: string;
  /** The egress policy's resolver (delivery/egress.ts), when it is on. */
  lookup?: LookupFunction;
}

/** PDUs from the SMSC handled in one turn of the event loop at most (onPdu). */
const PDUS_PER_TURN = 64;
/** The SMSC is busy: wait, then try again. Every other non-zero submit_sm_resp status is final. */
const THROTTLING = new Set(['ESME_RTHROTTLED', 'ESME_RMSGQFUL']);
/** deliver_sm_resp status when a receipt cannot be recorded now: the SMSC delivers it again later. */
export const ESME_RX_T_APPN = 0x64;

const STATUS_NAMES = new Map<number, string>();
for (const [name, code] of Object.entries(smpp.errors)) if (!STATUS_NAMES.has(code)) STATUS_NAMES.set(code, name);

/** ESME_RTHROTTLED, or the hex of a status the package does not name. */
const statusName = (code: number) => STATUS_NAMES.get(code) ?? `0x${code.toString(16).padStart(8, '0')}`;

const reconnectDelay = (failures: number) => Math.round(Math.min(30_000, 250 * 2 ** Math.min(failures, 7)) * (0.75 + Math.random() * 0.25));
const throttleDelay = (n: number) => Math.min(10_000, 500 * 2 ** Math.min(n, 5));

interface Pending {
  resolve: (pdu: PDU) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

const transient = (message: string, code: string) => new ProviderError(message, { code });

export class SmppSession {
  private session: Session | null = null;
  private bound = false;
  private closed = false;
  /** Failed connects or binds in a row; the next reconnect waits by it. */
  private failures = 0;
  private lastError: string | null = null;
  /** The egress policy refused the SMSC's address at the last connect: sends fail for good until a bind succeeds. */
  private refused: EgressDenied | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private keepAlive: NodeJS.Timeout | null = null;
  /** submit_sm sent on the current session and not yet answered, by sequence number. */
  private readonly inflight = new Map<number, Pending>();
  /** Sends waiting for a bound session or a free slot in the window, in order. */
  private readonly queue: { go: () => void; fail: (e: Error) => void }[] = [];
  private throttles = 0;
  private throttledUntil = 0;
  private throttleTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: SmppSessionOptions) {
    this.connect();
  }

  /** Whether the session is bound now (for /ready and tests). */
  get isBound(): boolean {
    return this.bound;
  }

  private connect(): void {
    if (this.closed) return;
    const { endpoint, log, label } = this.o;
    const session = smpp.connect({ host: endpoint.host, port: endpoint.port, tls: endpoint.tls, ...(this.o.lookup ? { lookup: this.o.lookup } : {}) });
    this.session = session;
    const connectTimer = setTimeout(() => {
      this.lastError = `no bind within ${this.o.responseTimeoutMs} ms`;
      session.destroy();
    }, this.o.responseTimeoutMs);
    session.on(endpoint.tls ? 'secureConnect' : 'connect', () => {
      session.bind_transceiver({ system_id: endpoint.system_id, password: endpoint.password, system_type: this.o.systemType, interface_version: 0x34 }, (pdu) => {
        clearTimeout(connectTimer);
        if (pdu.command_status !== 0) {
          this.lastError = `bind_transceiver refused: ${statusName(pdu.command_status)}`;
          log.error({ smsc: label, status: statusName(pdu.command_status) }, 'the SMSC refused the bind; retrying with backoff');
          session.destroy();
          return;
        }
        this.bound = true;
        this.failures = 0;
        this.lastError = null;
        this.refused = null;
        log.info({ smsc: label }, 'SMPP session bound (transceiver)');
        this.startKeepAlive(session);
        this.drain();
      });
    });
    session.on('pdu', (pdu: PDU) => this.onPdu(session, pdu));
    session.on('error', (err: Error & { code?: string }) => {
      if (err instanceof EgressDenied) this.refused = err;
      this.lastError = err instanceof EgressDenied ? err.message : (err.code ?? err.message);
      log.warn({ smsc: label, error: err.code ?? err.message }, 'SMPP session error');
    });
    session.on('close', () => {
      clearTimeout(connectTimer);
      this.onClose(session);
    });
  }

  private onClose(session: Session): void {
    if (this.session !== session) return;
    const wasBound = this.bound;
    this.bound = false;
    this.session = null;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.keepAlive = null;
    const lost = [...this.inflight.values()];
    this.inflight.clear();
    for (const p of lost) {
      clearTimeout(p.timer);
      p.reject(transient(`the SMPP session to ${this.o.label} closed with this submit_sm unanswered; it may have been accepted`, 'SMPP_SESSION_LOST'));
    }
    if (this.closed) return;
    if (!wasBound) {
      // The SMSC cannot be reached or refuses the bind: sends waiting for it fail now (and wait for their
      // retry) rather than hold a worker each until the bind wait runs out.
      this.failures++;
      const why = this.refused
        ? egressFailure(`the SMSC of ${this.o.label}`, this.refused)
        : transient(`the SMPP session to ${this.o.label} is not bound (${this.lastError ?? 'connection closed'})`, 'SMPP_NOT_BOUND');
      for (const w of this.queue.splice(0)) w.fail(why);
    }
    const wait = reconnectDelay(this.failures);
    this.o.log.warn({ smsc: this.o.label, unanswered: lost.length, reconnectInMs: wait, error: this.lastError }, 'SMPP session closed; reconnecting');
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      this.connect();
    }, wait);
  }

  private startKeepAlive(session: Session): void {
    let answered = true;
    this.keepAlive = setInterval(() => {
      if (!answered) {
        this.lastError = 'enquire_link unanswered';
        this.o.log.warn({ smsc: this.o.label }, 'enquire_link unanswered; dropping the session');
        session.destroy();
        return;
      }
      answered = false;
      session.enquire_link({}, () => {
        answered = true;
      });
    }, this.o.enquireLinkMs);
    this.keepAlive.unref();
  }

  /**
   * PDUs handled in this turn of the event loop. The package parses whatever the socket holds in one
   * loop: a peer flooding thousands of deliver_sm would hold the event loop (and /health) for all of
   * them, so past PDUS_PER_TURN the session pauses until the next turn (the socket's buffer then fills
   * and TCP slows the peer down).
   */
  private pdusThisTurn = 0;

  private onPdu(session: Session, pdu: PDU): void {
    if (this.pdusThisTurn++ === 0) setImmediate(() => (this.pdusThisTurn = 0));
    if (this.pdusThisTurn === PDUS_PER_TURN) {
      session.pause();
      setImmediate(() => session.resume());
    }
    if (pdu.command === 'enquire_link') {
      session.send(pdu.response());
    } else if (pdu.command === 'unbind') {
      this.bound = false;
      session.send(pdu.response(), () => session.close());
    } else if (pdu.command === 'deliver_sm') {
      this.o.onDeliver(pdu).then(
        (status) => session.send(pdu.response({ command_status: status })),
        () => session.send(pdu.response({ command_status: ESME_RX_T_APPN })),
      );
    } else if (!pdu.isResponse()) {
      session.send(pdu.response({ command_status: smpp.errors.ESME_RINVCMDID }));
    }
  }

  /** Lets the waiting sends go while the session is bound, the window has room and the SMSC is not throttling. */
  private drain(): void {
    if (!this.bound) return;
    const wait = this.throttledUntil - Date.now();
    if (wait > 0) {
      this.throttleTimer ??= setTimeout(() => {
        this.throttleTimer = null;
        this.drain();
      }, wait);
      return;
    }
    while (this.queue.length && this.inflight.size + this.starting < this.o.window) {
      this.starting++;
      this.queue.shift()!.go();
    }
  }

  /** Slots handed to waiting sends that have not sent yet (they run on the next microtask). */
  private starting = 0;

  /** Waits for a bound session and a free slot; fails at once when the SMSC is known to be down. */
  private slot(): Promise<void> {
    if (this.closed) return Promise.reject(transient(`the SMPP session to ${this.o.label} is closed`, 'SMPP_CLOSED'));
    if (!this.bound && this.refused) return Promise.reject(egressFailure(`the SMSC of ${this.o.label}`, this.refused));
    if (!this.bound && this.failures > 0) {
      return Promise.reject(transient(`the SMPP session to ${this.o.label} is not bound (${this.lastError ?? 'connecting'})`, 'SMPP_NOT_BOUND'));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        go: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.queue.indexOf(waiter);
        if (i >= 0) this.queue.splice(i, 1);
        reject(transient(`no SMPP session to ${this.o.label} within ${this.o.bindWaitMs} ms (${this.lastError ?? 'binding'})`, 'SMPP_NOT_BOUND'));
      }, this.o.bindWaitMs);
      this.queue.push(waiter);
      this.drain();
    });
  }

  /**
   * Sends one submit_sm and resolves with its submit_sm_resp when the status is ESME_ROK; rejects
   * with a ProviderError otherwise (throttling: transient with retryAfterMs; other statuses: permanent).
   */
  async submit(params: Record<string, unknown>): Promise<PDU> {
    await this.slot();
    this.starting--;
    const session = this.session;
    if (!session || !this.bound) {
      this.drain();
      throw transient(`the SMPP session to ${this.o.label} dropped before the submit_sm went out`, 'SMPP_SESSION_LOST');
    }
    const resp = await new Promise<PDU>((resolve, reject) => {
      const pdu = new smpp.PDU('submit_sm', params);
      const timer = setTimeout(() => {
        this.inflight.delete(pdu.sequence_number);
        reject(transient(`no submit_sm_resp from ${this.o.label} within ${this.o.responseTimeoutMs} ms; it may have been accepted`, 'SMPP_TIMEOUT'));
        this.drain();
      }, this.o.responseTimeoutMs);
      const sent = session.send(pdu, (r) => {
        if (!this.inflight.delete(pdu.sequence_number)) return;
        clearTimeout(timer);
        resolve(r);
        this.drain();
      });
      if (!sent) {
        clearTimeout(timer);
        reject(transient(`the SMPP session to ${this.o.label} is not writable`, 'SMPP_SESSION_LOST'));
        return;
      }
      this.inflight.set(pdu.sequence_number, { resolve, reject, timer });
    });
    const status = resp.command_status;
    if (status === 0) {
      this.throttles = 0;
      return resp;
    }
    const name = statusName(status);
    if (THROTTLING.has(name)) {
      const retryAfterMs = throttleDelay(this.throttles++);
      this.throttledUntil = Math.max(this.throttledUntil, Date.now() + retryAfterMs);
      throw new ProviderError(`the SMSC is throttling (submit_sm_resp ${name})`, { code: name, retryAfterMs });
    }
    throw new ProviderError(`the SMSC refused the message (submit_sm_resp ${name})`, { code: name, permanent: true });
  }

  /** Unbinds (briefly waiting for unbind_resp) and closes; sends in flight fail as transient. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    if (this.throttleTimer) clearTimeout(this.throttleTimer);
    for (const w of this.queue.splice(0)) w.fail(transient(`the SMPP session to ${this.o.label} closed`, 'SMPP_CLOSED'));
    const session = this.session;
    if (!session) return;
    await new Promise<void>((resolve) => {
      const done = setTimeout(() => session.destroy(), 1000);
      session.once('close', () => {
        clearTimeout(done);
        resolve();
      });
      if (!this.bound || !session.unbind({}, () => session.close())) session.destroy();
    });
  }
}
