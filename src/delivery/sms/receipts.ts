/**
 * Delivery receipts from SMSCs: each `deliver_sm` with the receipt bit is matched by the SMSC it came
 * from and its message_id to the SMS part it reports, and recorded (store.applySmsReceipts).
 *
 * An SMSC may repeat a receipt, or flood them (a hostile or broken peer sent thousands for one id):
 * - receipts are written in batches (WriteBatch: those that arrive while a write is on its way go
 *   together in the next, one transaction);
 * - a receipt identical to one already waiting or being written joins it rather than being written
 *   again, and one that repeats the part's recorded state writes nothing (the store checks);
 * - at most MAX_PENDING distinct receipts wait; past that the SMSC is answered "try later"
 *   (ESME_RX_T_APPN) at once, so memory and the event loop stay bounded whatever it sends;
 * - a message's history is capped (core/history.ts).
 *
 * A receipt can overtake the recording of its own submit (the SMSC answers submit_sm_resp and sends the
 * receipt at once, before the dispatcher has written the outcome), so one that matches nothing is tried
 * again for a while (RETRY_FOR_MS) before it is logged and dropped. A store outage answers the SMSC
 * "try later" (ESME_RX_T_APPN) so it redelivers.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { PDU } from 'smpp';
import { isStoreUnavailable } from '../../core/errors.ts';
import { parseReceipt, type Receipt } from '../../core/sms-receipt.ts';
import type { SmsReceiptHit } from '../../store/queries/receipts.ts';
import type { Store } from '../../store/store.ts';
import { WriteBatch } from '../write-batch.ts';
import { ESME_RX_T_APPN } from './smpp-session.ts';

/** esm_class bits 2-5 say what a deliver_sm is; 0x04 is an SMSC delivery receipt. */
const RECEIPT_TYPE = 0x3c;
const SMSC_DELIVERY_RECEIPT = 0x04;
const RETRY_FOR_MS = 120_000;
const RETRY_EVERY_MS = 250;
/** Unmatched receipts kept for another try, at most: an SMSC sending receipts for ids Salvo never had cannot grow memory. */
const MAX_UNMATCHED = 10_000;
/**
 * Receipts in one write at most: SQLite runs a write on the event loop, and receipts for as many
 * different messages cost about 5 statements each.
 */
const RECEIPTS_PER_WRITE = 100;
/** Distinct receipts waiting for their write, at most; past it the SMSC is asked to send again later. */
const MAX_PENDING = 5_000;

interface Pending {
  smsc: string;
  receipt: Receipt;
  detail: string;
}

export class ReceiptBook {
  private readonly unmatched = new Map<string, Pending & { since: number }>();
  /** Receipts waiting for their write or being written, by smsc, id, stat and err: a repeat joins the first. */
  private readonly pending = new Map<string, Promise<SmsReceiptHit | undefined>>();
  private readonly batch: WriteBatch<Pending, SmsReceiptHit>;
  private nextId = 0;
  private timer: NodeJS.Timeout | null = null;
  private refusedSince: number | null = null;

  constructor(
    store: Pick<Store, 'applySmsReceipts'>,
    private readonly log: FastifyBaseLogger,
  ) {
    this.batch = new WriteBatch(async (items) => {
      const hits = await store.applySmsReceipts(
        items.map(({ item }) => ({ smsc: item.smsc, providerId: item.receipt.id, stat: item.receipt.stat, detail: item.detail })),
        Date.now(),
      );
      const found = new Map<number, SmsReceiptHit>();
      items.forEach(({ id }, i) => {
        if (hits[i]) found.set(id, hits[i]);
      });
      return found;
    }, RECEIPTS_PER_WRITE);
  }

  /** Handles a deliver_sm from the SMSC `smsc` (core/sms-receipt.ts smscKey); answers the command_status of its deliver_sm_resp. */
  async onDeliver(pdu: PDU, smsc: string, label = smsc): Promise<number> {
    if (((pdu.esm_class as number) & RECEIPT_TYPE) !== SMSC_DELIVERY_RECEIPT) {
      this.log.debug({ smsc: label }, 'deliver_sm that is not a delivery receipt (a mobile-originated SMS?); acknowledged and ignored');
      return 0;
    }
    const sm = pdu.short_message as { message?: unknown } | undefined;
    const text = typeof sm?.message === 'string' ? sm.message : Buffer.isBuffer(sm?.message) ? sm.message.toString('latin1') : '';
    const receipt = parseReceipt(text, { receipted_message_id: pdu.receipted_message_id as string | undefined, message_state: pdu.message_state as number | undefined });
    if (!receipt) {
      this.log.warn({ smsc: label, text: text.slice(0, 200) }, 'a delivery receipt without an id or a stat; acknowledged and ignored');
      return 0;
    }
    const detail = `delivery receipt: stat ${receipt.stat}${receipt.err ? `, err ${receipt.err}` : ''} for SMSC message_id ${receipt.id}`;
    try {
      const hit = await this.record({ smsc, receipt, detail }, label);
      if (hit === 'busy') return ESME_RX_T_APPN;
      if (!hit) this.park({ smsc, receipt, detail });
      return 0;
    } catch (err) {
      if (isStoreUnavailable(err)) this.log.warn({ smsc: label, reason: err.reason }, 'the store is unavailable; the SMSC is asked to deliver the receipt again');
      else this.log.error({ err, smsc: label }, 'recording a delivery receipt failed; the SMSC is asked to deliver it again');
      return ESME_RX_T_APPN;
    }
  }

  /** Writes the receipt with the next batch, or joins an identical one already waiting; 'busy' when too many wait. */
  private record(p: Pending, label: string): Promise<SmsReceiptHit | undefined> | 'busy' {
    const key = `${p.smsc}\u0000${p.receipt.id}\u0000${p.receipt.stat}\u0000${p.receipt.err ?? ''}`;
    const same = this.pending.get(key);
    if (same) return same;
    if (this.pending.size >= MAX_PENDING) {
      // Said once per flood, not once per receipt.
      if (this.refusedSince === null) {
        this.refusedSince = Date.now();
        this.log.warn({ smsc: label, waiting: this.pending.size }, 'too many delivery receipts waiting to be written; the SMSC is asked to send the rest again later');
      }
      return 'busy';
    }
    this.refusedSince = null;
    const write = this.batch.add(this.nextId++, p).then((hit) => {
      if (hit) this.log.debug({ message: hit.message_id, status: hit.status, stat: p.receipt.stat, repeated: hit.repeated }, 'delivery receipt recorded');
      return hit;
    });
    this.pending.set(key, write);
    const forget = () => this.pending.delete(key);
    write.then(forget, forget);
    return write;
  }

  private park(p: Pending): void {
    const key = `${p.smsc}\u0000${p.receipt.id}`;
    if (this.unmatched.size >= MAX_UNMATCHED && !this.unmatched.has(key)) {
      const [oldest] = this.unmatched.keys();
      this.unmatched.delete(oldest);
      this.log.warn({ providerMessageId: oldest.split('\u0000')[1] }, 'too many delivery receipts waiting for their message; the oldest is dropped');
    }
    this.unmatched.set(key, { ...p, since: Date.now() });
    this.timer ??= setTimeout(() => void this.retry(), RETRY_EVERY_MS);
  }

  private async retry(): Promise<void> {
    // All parked receipts go in one batch (they are written in order, one transaction).
    await Promise.all(
      [...this.unmatched].map(async ([key, u]) => {
        try {
          const hit = await this.batch.add(this.nextId++, u);
          if (hit) this.unmatched.delete(key);
          else if (Date.now() - u.since > RETRY_FOR_MS) {
            this.unmatched.delete(key);
            this.log.warn({ smsc: u.smsc, providerMessageId: u.receipt.id, stat: u.receipt.stat }, 'a delivery receipt matched no sent SMS of its SMSC; dropped');
          }
        } catch (err) {
          this.log.warn({ err, providerMessageId: u.receipt.id }, 'recording a delivery receipt failed; trying again');
        }
      }),
    );
    this.timer = this.unmatched.size && !this.closed ? setTimeout(() => void this.retry(), RETRY_EVERY_MS) : null;
  }

  private closed = false;

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
