/**
 * Follows a JSON text as its bytes arrive, without building it: its nesting depth, the top-level
 * object's "token" string, and where its large string values are (http/large-strings.ts takes them out). A request whose token is in its body is checked with it before the body is
 * parsed (http/json-body.ts), so a large body without a valid token costs its bytes and this walk,
 * a chunk at a time, never a JSON.parse that holds the event loop. Written by hand: a streaming JSON
 * parser would build what this only needs to step over.
 */
const QUOTE = 34;
const BACKSLASH = 92;
const OPEN = new Set([123, 91]); // { [
const CLOSE = new Set([125, 93]); // } ]
const COMMA = 44;
const COLON = 58;
/** Longer than any token (256 characters, escaped) or the key "token": what is longer is neither. */
const CAPTURE_CAP = 2048;
/** String values of this many bytes or more are noted (`largeStrings`), for http/large-strings.ts. */
export const LARGE_STRING_BYTES = 64 * 1024;

export class JsonScan {
  depth = 0;
  maxDepth = 0;
  private inString = false;
  private escaped = false;
  /** At the top level: the top-level value is an object, and the next string there is a key. */
  private topIsObject = false;
  private expectKey = false;
  private key: string | null = null;
  private afterColon = false;
  /**
   * A top-level string being kept (a key, or the token's value): its bytes in earlier chunks, and
   * where it starts in this one. Others are only stepped over: keeping every string of the body
   * byte by byte cost each request an array and a Buffer per string (docs/performance-log.md).
   */
  private captured: Buffer[] | null = null;
  private capturedFrom = 0;
  private capturedLength = 0;
  /** The top-level "token": its value's raw JSON string content, absent (undefined), or null when it is no string. */
  private rawToken: string | null | undefined = undefined;

  /** Where the chunk being fed starts in the body. */
  private offset = 0;
  /** Per open container, by depth: an object (after its '{' or a ',' the next string is a key) or an array. */
  private readonly objectAt: boolean[] = [];
  private nextIsKey = false;
  private stringIsKey = false;
  private stringStart = 0;
  /** String values of LARGE_STRING_BYTES or more: where their text (between the quotes) starts and ends in the body. */
  readonly largeStrings: { start: number; end: number }[] = [];
  feed(chunk: Buffer): void {
    // Inside a string only a quote or a backslash matters: the next of each in this chunk is found by
    // indexOf (native, where a loop over a 12 MB base64 string byte by byte held the event loop) and kept
    // until passed; -1: none in the rest of the chunk, -2: not looked for yet.
    let nextQuote = -2;
    let nextBackslash = -2;
    for (let i = 0; i < chunk.length; i++) {
      if (this.inString) {
        if (this.escaped) {
          this.escaped = false;
          continue;
        }
        if (nextQuote !== -1 && nextQuote < i) nextQuote = chunk.indexOf(QUOTE, i);
        if (nextBackslash !== -1 && nextBackslash < i) nextBackslash = chunk.indexOf(BACKSLASH, i);
        const stop = nextBackslash === -1 ? nextQuote : nextQuote === -1 ? nextBackslash : Math.min(nextQuote, nextBackslash);
        if (stop === -1) break;
        i = stop;
        if (chunk[i] === BACKSLASH) this.escaped = true;
        else {
          this.inString = false;
          if (!this.stringIsKey && this.offset + i - this.stringStart >= LARGE_STRING_BYTES) this.largeStrings.push({ start: this.stringStart, end: this.offset + i });
          if (this.captured) this.endTopString(chunk, i);
        }
        continue;
      }
      const c = chunk[i];
      if (c === QUOTE) {
        this.inString = true;
        this.stringIsKey = this.nextIsKey;
        this.nextIsKey = false;
        this.stringStart = this.offset + i + 1;
        if (this.depth === 1 && this.topIsObject) {
          this.afterColon = false;
          // Keys are kept to know which value is the token's; of values, only the token's.
          if (this.expectKey || this.key === 'token') {
            this.captured = [];
            this.capturedFrom = i + 1;
            this.capturedLength = 0;
          }
        }
      } else if (OPEN.has(c)) {
        this.objectAt[this.depth + 1] = this.nextIsKey = c === 123;
        if (this.depth === 0) {
          this.topIsObject = c === 123;
          this.expectKey = this.topIsObject;
        } else if (this.depth === 1 && this.afterColon) this.valueIsNotString();
        if (++this.depth > this.maxDepth) this.maxDepth = this.depth;
      } else if (CLOSE.has(c)) {
        this.depth--;
        this.nextIsKey = false;
      } else {
        if (c === COMMA) this.nextIsKey = this.objectAt[this.depth] === true;
        else if (c === COLON) this.nextIsKey = false;
        if (this.depth === 1 && this.topIsObject) {
          if (c === COMMA) this.expectKey = true;
          else if (c === COLON) this.afterColon = true;
          else if (this.afterColon && c > 32) this.valueIsNotString(); // a number, true, false, null
        }
      }
    }
    // A kept string goes on in the next chunk: this chunk's part of it, unless it is already too long to matter.
    if (this.captured) {
      this.capturedLength += chunk.length - this.capturedFrom;
      if (this.capturedLength <= CAPTURE_CAP) this.captured.push(chunk.subarray(this.capturedFrom));
      this.capturedFrom = 0;
    }
    this.offset += chunk.length;
  }

  /** A kept string ended at `end` of `chunk`: a key (named), or the token's value. */
  private endTopString(chunk: Buffer, end: number): void {
    const parts = this.captured!;
    const overflow = this.capturedLength + (end - this.capturedFrom) > CAPTURE_CAP;
    const text = overflow ? null : parts.length === 0 ? chunk.toString('utf8', this.capturedFrom, end) : Buffer.concat([...parts, chunk.subarray(this.capturedFrom, end)]).toString('utf8');
    this.captured = null;
    if (this.expectKey) {
      this.key = text;
      this.expectKey = false;
    } else if (this.key === 'token') this.rawToken = text;
  }

  private valueIsNotString(): void {
    this.afterColon = false;
    if (this.key === 'token') this.rawToken = null;
  }

  /**
   * The top-level "token" as JSON.parse would read it (the last one given): a string, undefined when
   * there is none, or null when it is no string (or too long to be one): then the parsed body decides.
   */
  token(): string | null | undefined {
    if (typeof this.rawToken !== 'string') return this.rawToken;
    try {
      return JSON.parse(`"${this.rawToken}"`) as string;
    } catch {
      return null;
    }
  }
}
