/**
 * The SMS channel: a router that sends each message through the provider its resource names
 * (`sms.smpp`, `sms.http`), or captures it in the outbox when the resource has none (settings from
 * SALVO_SMPP_URL and SALVO_SMS_SENDER are already merged into the resource by then).
 *
 * SMPP: one bound session per resource, made on its first message and replaced when its settings
 * change; each message is encoded (gsm.ts) and its parts submitted in order through the session's
 * window. Delivery receipts arriving on any session are recorded by one ReceiptBook, matched by the
 * session's SMSC and the id.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RenderedMessage } from '../../core/message.ts';
import { smppEndpoint } from '../../core/resource-settings.ts';
import { smscKey } from '../../core/sms-receipt.ts';
import type { SmppSettings } from '../../core/types.ts';
import type { Store } from '../../store/store.ts';
import type { Channel, SendContext, SendResult } from '../channels.ts';
import { guardedLookup, literalRefusal } from '../egress.ts';
import { egressFailure, HttpClient } from '../http-client.ts';
import { ProviderError } from '../provider-error.ts';
import { encodeSms } from './gsm.ts';
import { sendHttpSms } from './http-gateway.ts';
import { ReceiptBook } from './receipts.ts';
import { SmppSession } from './smpp-session.ts';

type SmsMessage = Extract<RenderedMessage, { channel: 'sms' }>;

export interface SmsChannelOptions {
  outbox: Channel;
  store: Store;
  log: FastifyBaseLogger;
  /** How long a submit_sm, a bind or an enquire_link may wait for its answer (default 30 s). */
  responseTimeoutMs?: number;
  /** The egress policy (SALVO_EGRESS_DENY_PRIVATE) on every SMSC and gateway connection. */
  denyPrivate: boolean;
}

const DEFAULT_WINDOW = 10;
const UDH_INDICATOR = 0x40;
const FINAL_RECEIPT = 0x01;

/** An alphanumeric sender is TON 5 / NPI 0; a number is international, TON 1 / NPI 1, without its '+'. */
function sourceAddress(sender: string | undefined): { source_addr_ton: number; source_addr_npi: number; source_addr: string } {
  if (!sender) return { source_addr_ton: 0, source_addr_npi: 0, source_addr: '' };
  if (/^\+?\d+$/.test(sender)) return { source_addr_ton: 1, source_addr_npi: 1, source_addr: sender.replace(/^\+/, '') };
  return { source_addr_ton: 5, source_addr_npi: 0, source_addr: sender };
}

export class SmsChannel implements Channel {
  private readonly sessions = new Map<number, { key: string; session: SmppSession; smsc: string }>();
  private readonly receipts: ReceiptBook;
  /** The concatenation reference of the next long SMS (one byte, wrapping). */
  private reference = Math.floor(Math.random() * 256);

  private readonly http: HttpClient;

  constructor(private readonly o: SmsChannelOptions) {
    this.receipts = new ReceiptBook(o.store, o.log);
    // The gateway's own timeout_seconds bounds each request; this is the client's backstop.
    this.http = new HttpClient(10 * 60_000, { denyPrivate: o.denyPrivate });
  }

  async send(m: RenderedMessage, ctx: SendContext): Promise<SendResult> {
    const settings = ctx.resource.sms;
    if (m.channel !== 'sms' || (!settings?.smpp && !settings?.http)) return this.o.outbox.send(m, ctx);
    if (settings.smpp) {
      const host = smppEndpoint(settings.smpp).host;
      const refused = this.o.denyPrivate ? literalRefusal(host) : null;
      if (refused) throw egressFailure(`the SMSC ${host}`, refused);
      return this.viaSmpp(this.session(ctx.resource.id, settings.smpp), m);
    }
    return sendHttpSms(this.http, settings.http!, { to: m.to, sender: m.sender ?? '', text: m.text });
  }

  /** The resource's session and its SMSC; a resource whose settings changed gets a new one, and the old one closes. */
  private session(resourceId: number, s: SmppSettings): { session: SmppSession; smsc: string } {
    const key = JSON.stringify(s);
    const held = this.sessions.get(resourceId);
    if (held?.key === key) return held;
    if (held) void held.session.close();
    const endpoint = smppEndpoint(s);
    // Receipts are matched by the SMSC they come from and the id: two SMSCs may both number from 1.
    const smsc = smscKey(endpoint);
    const label = `resource ${resourceId}: ${endpoint.system_id}@${endpoint.host}:${endpoint.port}`;
    const timeout = this.o.responseTimeoutMs ?? 30_000;
    const session = new SmppSession({
      endpoint,
      window: s.window ?? DEFAULT_WINDOW,
      systemType: s.system_type ?? '',
      enquireLinkMs: (s.enquire_link_seconds ?? 30) * 1000,
      responseTimeoutMs: timeout,
      bindWaitMs: Math.min(timeout, 10_000),
      onDeliver: (pdu) => this.receipts.onDeliver(pdu, smsc, label),
      ...(this.o.denyPrivate ? { lookup: guardedLookup } : {}),
      log: this.o.log,
      label,
    });
    const made = { key, session, smsc };
    this.sessions.set(resourceId, made);
    return made;
  }

  private async viaSmpp({ session, smsc }: { session: SmppSession; smsc: string }, m: SmsMessage): Promise<SendResult> {
    const sms = encodeSms(m.text, this.reference++);
    const n = sms.parts.length;
    const pdu = {
      ...sourceAddress(m.sender),
      dest_addr_ton: 1,
      dest_addr_npi: 1,
      destination_addr: m.to.replace(/^\+/, ''),
      esm_class: n > 1 ? UDH_INDICATOR : 0,
      data_coding: sms.dataCoding,
      registered_delivery: FINAL_RECEIPT,
    };
    // Submitted one after another into the window, so the parts leave in order.
    const results = await Promise.allSettled(sms.parts.map((part) => session.submit({ ...pdu, short_message: part })));
    const failures = results.flatMap((r, i) => (r.status === 'rejected' ? [{ part: i + 1, e: r.reason as ProviderError }] : []));
    if (failures.length) {
      const { part, e } = failures.find((f) => f.e.permanent) ?? failures[0];
      const taken = n - failures.length;
      const note = n > 1 ? ` (part ${part} of ${n}${taken ? `; ${taken} other part(s) were accepted and are sent again on a retry` : ''})` : '';
      throw new ProviderError(`${e.message}${note}`, { permanent: e.permanent, retryAfterMs: e.retryAfterMs, code: e.code });
    }
    const ids = results.map((r) => String((r as PromiseFulfilledResult<{ message_id?: unknown }>).value.message_id ?? ''));
    const known = ids.filter(Boolean);
    return {
      detail: `SMPP submit_sm_resp ESME_ROK, message_id ${ids.join(', ') || '(none)'}; ${n} part${n > 1 ? 's' : ''}, ${sms.alphabet} (data_coding ${sms.dataCoding})`,
      ...(known.length ? { providerMessageId: known[0], smsParts: known.length === n ? known : undefined, smsc } : {}),
    };
  }

  async close(): Promise<void> {
    this.receipts.close();
    this.http.close();
    await Promise.all([...this.sessions.values()].map((s) => s.session.close()));
    this.sessions.clear();
  }
}
