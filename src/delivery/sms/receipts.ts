/**
 * Delivery receipts from SMSCs: each `deliver_sm` with the receipt bit is matched by message_id to the
 * SMS part it reports and recorded (store.applySmsReceipt). A receipt can overtake the recording of its
 * own submit (the SMSC answers submit_sm_resp and sends the receipt at once, before the dispatcher has
 * written the outcome), so one that matches nothing is tried again for a while (RETRY_FOR_MS) before it
 * is logged and dropped. A store outage answers the SMSC "try later" (ESME_RX_T_APPN) so it redelivers.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { PDU } from 'smpp';
import { isStoreUnavailable } from '../../core/errors.ts';
import { parseReceipt, type Receipt } from '../../core/sms-receipt.ts';
import type { Store } from '../../store/store.ts';
import { ESME_RX_T_APPN } from './smpp-session.ts';

/** esm_class bits 2-5 say what a deliver_sm is; 0x04 is an SMSC delivery receipt. */
const RECEIPT_TYPE = 0x3c;
const SMSC_DELIVERY_RECEIPT = 0x04;
const RETRY_FOR_MS = 120_000;
const RETRY_EVERY_MS = 250;
/** Unmatched receipts kept for another try, at most: an SMSC sending receipts for ids Salvo never had cannot grow memory. */
const MAX_UNMATCHED = 10_000;

export class ReceiptBook {
  private readonly unmatched = new Map<string, { receipt: Receipt; detail: string; since: number }>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: Store,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** Handles a deliver_sm; answers the command_status of its deliver_sm_resp. */
  async onDeliver(pdu: PDU, smsc: string): Promise<number> {
    if (((pdu.esm_class as number) & RECEIPT_TYPE) !== SMSC_DELIVERY_RECEIPT) {
      this.log.debug({ smsc }, 'deliver_sm that is not a delivery receipt (a mobile-originated SMS?); acknowledged and ignored');
      return 0;
    }
    const sm = pdu.short_message as { message?: unknown } | undefined;
    const text = typeof sm?.message === 'string' ? sm.message : Buffer.isBuffer(sm?.message) ? sm.message.toString('latin1') : '';
    const receipt = parseReceipt(text, { receipted_message_id: pdu.receipted_message_id as string | undefined, message_state: pdu.message_state as number | undefined });
    if (!receipt) {
      this.log.warn({ smsc, text: text.slice(0, 200) }, 'a delivery receipt without an id or a stat; acknowledged and ignored');
      return 0;
    }
    const detail = `delivery receipt: stat ${receipt.stat}${receipt.err ? `, err ${receipt.err}` : ''} for SMSC message_id ${receipt.id}`;
    try {
      if (!(await this.apply(receipt, detail))) this.park(receipt, detail);
      return 0;
    } catch (err) {
      if (isStoreUnavailable(err)) this.log.warn({ smsc, reason: err.reason }, 'the store is unavailable; the SMSC is asked to deliver the receipt again');
      else this.log.error({ err, smsc }, 'recording a delivery receipt failed; the SMSC is asked to deliver it again');
      return ESME_RX_T_APPN;
    }
  }

  private async apply(r: Receipt, detail: string): Promise<boolean> {
    const hit = await this.store.applySmsReceipt(r.id, r.stat, detail, Date.now());
    if (hit) this.log.debug({ message: hit.message_id, status: hit.status, stat: r.stat }, 'delivery receipt recorded');
    return hit !== null;
  }

  private park(receipt: Receipt, detail: string): void {
    if (this.unmatched.size >= MAX_UNMATCHED && !this.unmatched.has(receipt.id)) {
      const [oldest] = this.unmatched.keys();
      this.unmatched.delete(oldest);
      this.log.warn({ providerMessageId: oldest }, 'too many delivery receipts waiting for their message; the oldest is dropped');
    }
    this.unmatched.set(receipt.id, { receipt, detail, since: Date.now() });
    this.timer ??= setTimeout(() => this.retry(), RETRY_EVERY_MS);
  }

  private async retry(): Promise<void> {
    for (const [id, u] of [...this.unmatched]) {
      try {
        if (await this.apply(u.receipt, u.detail)) this.unmatched.delete(id);
        else if (Date.now() - u.since > RETRY_FOR_MS) {
          this.unmatched.delete(id);
          this.log.warn({ providerMessageId: id, stat: u.receipt.stat }, 'a delivery receipt matched no sent SMS; dropped');
        }
      } catch (err) {
        this.log.warn({ err, providerMessageId: id }, 'recording a delivery receipt failed; trying again');
      }
    }
    this.timer = this.unmatched.size ? setTimeout(() => this.retry(), RETRY_EVERY_MS) : null;
  }

  close(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
