/** `attach` items: {data: "data:<mime>;base64,...", name}. Decoded once per launch, a step at a time when large. */
import { createHash } from 'node:crypto';
import type { Steps } from '../support/steps.ts';
import { badRequest, tooLarge } from './errors.ts';
import { JsonStringBytes } from './json-string-bytes.ts';

export interface Attachment {
  name: string;
  mime: string;
  data: Buffer;
  /** SHA-256 of `data` (hex), taken as it was decoded; null for an attachment stored before Salvo kept it. */
  sha256: string | null;
}

/** Right-to-left and other direction overrides and marks: they make `invoice_gpj.exe` show as `invoice_exe.jpg`. */
const BIDI_CONTROLS = /[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;
/** Half of a UTF-16 surrogate pair without its other half: not text, and no mail header can carry it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Why an attachment name cannot be used, or null. Refused rather than cleaned up: the caller learns the
 * name is wrong, and the file arrives under the name that was sent or not at all.
 */
function nameProblem(name: unknown): string | null {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (typeof name !== 'string' || name.trim() === '' || name.length > 255 || /[\u0000-\u001f\u007f-\u009f/\\]/.test(name)) {
    return 'must be a file name of 1 to 255 characters without / \\ or control characters';
  }
  if (name.includes('\ufffd')) return 'is not valid UTF-8 (it holds U+FFFD, the replacement for bytes that are not UTF-8)';
  if (LONE_SURROGATE.test(name)) return 'holds a lone UTF-16 surrogate (\\ud800-\\udfff without its pair)';
  const bidi = BIDI_CONTROLS.exec(name);
  if (bidi) return `holds the text-direction control U+${bidi[0].codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}, which can disguise a file's type`;
  return null;
}

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*);base64,/;
const WHITESPACE = /\s+/g;
/** A piece of base64 text without whitespace: the alphabet, then at most two '=' of padding at the very end. */
const BASE64_PIECE = /^[A-Za-z0-9+/]*(={0,2})$/;

/**
 * Base64 text longer than this is decoded this many characters at a time (about 190 KB of bytes, a few
 * milliseconds of work on a busy machine), with a `yield` between steps; shorter text is decoded at once.
 */
export const DECODE_STEP_CHARS = 256 * 1024;

/**
 * Base64 text decoded a piece at a time into one buffer, with its SHA-256, and checked as it goes: after
 * whitespace is removed the text must be the alphabet, then at most two '=', and no group of one
 * character at the end. Pieces are decoded in whole groups of four, so the bytes are exactly
 * `Buffer.from(text, 'base64')`'s.
 */
export class Base64Decoder {
  private readonly out: Buffer;
  private written = 0;
  /** Characters seen without whitespace, padding included. */
  private chars = 0;
  /** '=' seen so far: once one is, only '=' may follow. */
  private padding = 0;
  /** The 0 to 3 characters of a group of four the next piece completes. */
  private carry = '';
  private readonly hash = createHash('sha256');

  /** `maxChars`: the length of the whole text, whitespace included; the output is sized for it. */
  constructor(maxChars: number) {
    this.out = Buffer.allocUnsafe(Math.ceil((maxChars * 3) / 4));
  }

  /** Adds the next piece of the text; false when the text cannot be base64 (the decoder is then done with). */
  push(piece: string): boolean {
    const s = piece.replace(WHITESPACE, '');
    this.chars += s.length;
    if (this.padding > 0) {
      this.padding += s.length;
      return this.padding <= 2 && /^=*$/.test(s);
    }
    const m = BASE64_PIECE.exec(s);
    if (!m) return false;
    this.padding = m[1].length;
    const alphabet = m[1] ? s.slice(0, -m[1].length) : s;
    // The carry's group completed first, then the whole groups of what is left; the rest is the next carry.
    let text = alphabet;
    if (this.carry) {
      const fill = Math.min(4 - this.carry.length, alphabet.length);
      const head = this.carry + alphabet.slice(0, fill);
      if (head.length < 4) {
        this.carry = head;
        return true;
      }
      this.decode(head);
      text = alphabet.slice(fill);
    }
    const whole = text.length - (text.length % 4);
    this.decode(text.slice(0, whole));
    this.carry = text.slice(whole);
    return true;
  }

  /** The bytes and their SHA-256 (hex), or null when the text ends in a group of one character. */
  end(): { data: Buffer; sha256: string } | null {
    if (this.chars % 4 === 1) return null;
    this.decode(this.carry);
    this.carry = '';
    return { data: this.out.subarray(0, this.written), sha256: this.hash.digest('hex') };
  }

  private decode(text: string): void {
    if (text === '') return;
    const n = this.out.write(text, this.written, 'base64');
    this.hash.update(this.out.subarray(this.written, this.written + n));
    this.written += n;
  }
}

/**
 * Base64 text given in consecutive pieces (`maxChars` in all at most), decoded; null when it is not
 * base64. Text longer than DECODE_STEP_CHARS yields once before its output is allocated (the caller may
 * make a large decode wait its turn there) and after each piece.
 */
function* decodeBase64(pieces: Iterable<string>, maxChars: number): Steps<{ data: Buffer; sha256: string } | null> {
  const large = maxChars > DECODE_STEP_CHARS;
  if (large) yield;
  const decoder = new Base64Decoder(maxChars);
  for (const piece of pieces) {
    if (!decoder.push(piece)) return null;
    if (large) yield;
  }
  return decoder.end();
}

function* slices(text: string, start: number, step: number): Generator<string, void, void> {
  for (let at = start; at < text.length; at += step) yield text.slice(at, at + step);
}

/**
 * An item's data URL: its MIME type, parameters, and the base64 text after its comma in pieces of about
 * DECODE_STEP_CHARS, with how many characters they hold at most; null when it is no base64 data URL.
 * A large body's string comes as JsonStringBytes (http/large-strings.ts), read a piece at a time.
 */
function dataUrl(data: string | JsonStringBytes, at: string): { match: RegExpExecArray; pieces: Iterable<string>; maxChars: number } | null {
  if (typeof data === 'string') {
    const match = DATA_URL.exec(data);
    return match && { match, pieces: slices(data, match[0].length, DECODE_STEP_CHARS), maxChars: data.length - match[0].length };
  }
  const texts = data.texts(DECODE_STEP_CHARS);
  const first = texts.next();
  const head = first.done ? '' : first.value;
  const match = DATA_URL.exec(head);
  if (!match) return null;
  return { match, pieces: withoutNul(chain(head.slice(match[0].length), texts), at), maxChars: data.bytes };
}

/** The pieces, refused at the first that holds a NUL, as http/json-body.ts refuses any string of a request that does. */
function* withoutNul(pieces: Iterable<string>, at: string): Generator<string, void, void> {
  for (const piece of pieces) {
    if (piece.includes('\u0000')) throw badRequest(`field '${at}.data' must not contain the NUL character (\\u0000)`);
    yield piece;
  }
}

function* chain(first: string, rest: Iterable<string>): Generator<string, void, void> {
  yield first;
  yield* rest;
}

/**
 * The `attach` items, checked and decoded in order (each item's name, data URL, base64, the running
 * size against `limitBytes`, its MIME type). A step at a time: see Steps (support/steps.ts) for how the
 * caller runs it; attachments no longer than DECODE_STEP_CHARS of base64 finish without a yield.
 */
export function* decodeAttachments(items: unknown, limitBytes: number): Steps<Attachment[]> {
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) throw badRequest("field 'attach' must be an array of {data, name}");
  let total = 0;
  const list: Attachment[] = [];
  for (const [i, item] of items.entries()) {
    const at = `attach[${i}]`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) throw badRequest(`${at} must be an object {data, name}`);
    const { data, name } = item as { data?: unknown; name?: unknown };
    const problem = nameProblem(name);
    if (problem) throw badRequest(`${at}.name ${problem}`);
    if (typeof data !== 'string' && !(data instanceof JsonStringBytes)) throw badRequest(`${at}.data must be a data URL string: data:<mime>;base64,<data>`);
    let decoded: { data: Buffer; sha256: string } | null;
    let m: RegExpExecArray;
    try {
      const url = dataUrl(data, at);
      if (!url) throw badRequest(`${at}.data is not a base64 data URL (data:<mime>;base64,<data>)`);
      m = url.match;
      decoded = yield* decodeBase64(url.pieces, url.maxChars);
    } catch (e) {
      // A large body's string is unescaped only as it is decoded: an invalid escape shows here.
      if (e instanceof SyntaxError) throw badRequest(`${at}.data is not a valid JSON string: ${e.message}`);
      throw e;
    }
    if (!decoded) throw badRequest(`${at}.data is not valid base64`);
    total += decoded.data.length;
    if (total > limitBytes) throw tooLarge(`attachments are larger than the limit of ${limitBytes} bytes`);
    const mime = m[1] || 'application/octet-stream';
    if (!/^[\w.+-]+\/[\w.+-]+$/.test(mime)) throw badRequest(`${at}.data has an invalid MIME type '${mime}'`);
    list.push({ name: name as string, mime, ...decoded });
  }
  return list;
}
