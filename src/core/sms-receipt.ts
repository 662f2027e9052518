/**
 * SMPP delivery receipts: what a `deliver_sm` receipt says, and what the receipts of a message's parts
 * make of it. The receipt text is the SMPP 3.4 appendix B form (de facto; SMSCs vary in the details):
 * `id:IIIII sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:...`.
 * The receipted_message_id and message_state TLVs, when present, win over the text.
 */

/**
 * The SMSC a session talks to, as receipts are matched by it: system_id@host:port. Two resources with
 * the same SMSC account share its numbering (the SMSC may send a receipt on either session).
 */
export const smscKey = (e: { system_id: string; host: string; port: number }): string => `${e.system_id}@${e.host.toLowerCase()}:${e.port}`;

export interface Receipt {
  /** The SMSC's message_id, as submit_sm_resp gave it. */
  id: string;
  /** DELIVRD, UNDELIV, EXPIRED, DELETED, REJECTD, UNKNOWN, ENROUTE, ACCEPTD. */
  stat: string;
  err: string | null;
}

/** message_state TLV values (SMPP 3.4 5.2.28) by the stat word the text form uses. */
const STATE_WORDS: Record<number, string> = { 1: 'ENROUTE', 2: 'DELIVRD', 3: 'EXPIRED', 4: 'DELETED', 5: 'UNDELIV', 6: 'ACCEPTD', 7: 'UNKNOWN', 8: 'REJECTD' };

export function parseReceipt(text: string, tlv: { receipted_message_id?: string; message_state?: number } = {}): Receipt | null {
  const field = (name: string) => new RegExp(`(?:^|\\s)${name}:(\\S*)`, 'i').exec(text)?.[1] ?? null;
  const id = tlv.receipted_message_id || field('id');
  const stat = (tlv.message_state !== undefined && STATE_WORDS[tlv.message_state]) || field('stat')?.toUpperCase();
  if (!id || !stat) return null;
  return { id, stat, err: field('err') };
}

/** A receipt state that ends a part: delivered, or never to be. ENROUTE and ACCEPTD are on the way. */
function finalOf(stat: string | null): 'delivered' | 'undelivered' | null {
  if (stat === null || stat === 'ENROUTE' || stat === 'ACCEPTD') return null;
  return stat === 'DELIVRD' ? 'delivered' : 'undelivered';
}

/**
 * A message of several parts is `delivered` when every part's receipt says DELIVRD, `undelivered` as
 * soon as one part's says it never will be (the text cannot arrive whole); until then it stays `sent`.
 */
export function messageStateOf(partStates: (string | null)[]): 'delivered' | 'undelivered' | 'sent' {
  const finals = partStates.map(finalOf);
  if (finals.includes('undelivered')) return 'undelivered';
  return finals.every((f) => f === 'delivered') ? 'delivered' : 'sent';
}
