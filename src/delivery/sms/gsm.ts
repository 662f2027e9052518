/**
 * An SMS text as SMPP carries it: GSM 03.38 (data_coding 0) when every character is in the default
 * alphabet or its extension table, UCS-2 (data_coding 8) otherwise; split into concatenated parts
 * with a UDH (8-bit reference) when it does not fit one message: 160 septets or 70 UCS-2 units in one,
 * 153 and 67 per part of several.
 *
 * The `smpp` package's GSM coder (its "ASCII" encoding) does the alphabet; the package itself would
 * label such a message data_coding 1 (IA5), so Salvo encodes the bytes here and sets data_coding 0 itself.
 * Septets are sent unpacked (one per octet), as SMPP expects; the SMSC packs them for the air.
 */
import smpp from 'smpp';
import { ProviderError } from '../provider-error.ts';

export interface EncodedSms {
  dataCoding: 0 | 8;
  alphabet: 'GSM 03.38' | 'UCS-2';
  /** Each part's short_message, UDH included when there are several. */
  parts: Buffer[];
}

const ESC = 0x1b;
/** A longer text would need more than 255 parts, the most a UDH can number. */
const MAX_PARTS = 255;

/** Cuts `bytes` into pieces of at most `size` bytes, each cut where `splitsBefore` allows it. */
function cut(bytes: Buffer, size: number, splitsBefore: (b: Buffer, at: number) => boolean): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  while (start < bytes.length) {
    let end = Math.min(bytes.length, start + size);
    while (end < bytes.length && end > start + 2 && !splitsBefore(bytes, end)) end--;
    out.push(bytes.subarray(start, end));
    start = end;
  }
  return out;
}

/** A GSM escape (0x1B) and the extension character after it stay in one part. */
const gsmSplit = (b: Buffer, at: number) => b[at - 1] !== ESC;
/** A UTF-16 surrogate pair stays in one part (the code unit before the cut is not a high surrogate). */
const ucs2Split = (b: Buffer, at: number) => at % 2 === 0 && !(b[at - 2] >= 0xd8 && b[at - 2] <= 0xdb);

export function encodeSms(text: string, reference: number): EncodedSms {
  const gsm = smpp.encodings.ASCII.match(text);
  const bytes = gsm ? smpp.encodings.ASCII.encode(text) : Buffer.from(text, 'utf16le').swap16();
  const single = gsm ? 160 : 140;
  const perPart = gsm ? 153 : 134;
  const alphabet = gsm ? 'GSM 03.38' : 'UCS-2';
  const dataCoding = gsm ? 0 : 8;
  if (bytes.length <= single) return { dataCoding, alphabet, parts: [bytes] };
  const pieces = cut(bytes, perPart, gsm ? gsmSplit : ucs2Split);
  if (pieces.length > MAX_PARTS) throw new ProviderError(`the SMS text needs ${pieces.length} parts; at most ${MAX_PARTS} can be concatenated`, { permanent: true, code: 'SMS_TOO_LONG' });
  const ref = reference & 0xff;
  return {
    dataCoding,
    alphabet,
    parts: pieces.map((p, i) => Buffer.concat([Buffer.from([0x05, 0x00, 0x03, ref, pieces.length, i + 1]), p])),
  };
}
