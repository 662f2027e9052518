/**
 * Follows a JSON text as its bytes arrive, without building it: its nesting depth, and the top-level
 * object's "token" string. A request whose token is in its body is checked with it before the body is
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
  private captured: number[] | null = null;
  private overflow = false;
  /** The top-level "token": its value's raw JSON string content, absent (undefined), or null when it is no string. */
  private rawToken: string | null | undefined = undefined;

  feed(chunk: Buffer): void {
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === BACKSLASH) this.escaped = true;
        else if (c === QUOTE) {
          this.inString = false;
          if (this.captured) this.endTopString();
          continue;
        }
        if (this.captured && !this.overflow) {
          if (this.captured.length < CAPTURE_CAP) this.captured.push(c);
          else this.overflow = true;
        }
        continue;
      }
      if (c === QUOTE) {
        this.inString = true;
        if (this.depth === 1 && this.topIsObject) {
          this.captured = [];
          this.overflow = false;
          this.afterColon = false;
        }
      } else if (OPEN.has(c)) {
        if (this.depth === 0) {
          this.topIsObject = c === 123;
          this.expectKey = this.topIsObject;
        } else if (this.depth === 1 && this.afterColon) this.valueIsNotString();
        if (++this.depth > this.maxDepth) this.maxDepth = this.depth;
      } else if (CLOSE.has(c)) this.depth--;
      else if (this.depth === 1 && this.topIsObject) {
        if (c === COMMA) this.expectKey = true;
        else if (c === COLON) this.afterColon = true;
        else if (this.afterColon && c > 32) this.valueIsNotString(); // a number, true, false, null
      }
    }
  }

  private endTopString(): void {
    const text = this.overflow ? null : Buffer.from(this.captured!).toString('utf8');
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
