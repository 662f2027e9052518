/**
 * A large string of a request body kept as the bytes of its JSON text (between its quotes, escapes and
 * all), never made one JavaScript string: http/large-strings.ts takes it out of the body before the rest
 * is parsed. An attachment's base64 is read from it a step at a time (core/attachments.ts); anything else
 * is made a string in one piece, as JSON.parse would have.
 *
 * On this machine each pass over 12 MB (a copy, a UTF-8 decode, a JSON.parse) held the event loop
 * 30-40 ms; a 9 MB attachment's body took four of them in one piece before.
 */
import { StringDecoder } from 'node:string_decoder';

export class JsonStringBytes {
  /** `pieces`: the string's JSON text in order (views of the body's chunks); `bytes`: their total length. */
  constructor(
    readonly pieces: Buffer[],
    readonly bytes: number,
  ) {}

  /** The string as JSON.parse reads it; throws SyntaxError as JSON.parse does on an invalid escape or control character. */
  text(): string {
    return JSON.parse(`"${Buffer.concat(this.pieces, this.bytes).toString('utf8')}"`) as string;
  }

  /**
   * The string in consecutive pieces of about `step` characters, unescaped as JSON.parse would; an escape
   * cut by a step's end is completed from the next. Throws SyntaxError where the text is no JSON string.
   */
  *texts(step: number): Generator<string, void, void> {
    const utf8 = new StringDecoder('utf8');
    let carry = '';
    for (const piece of this.pieces) {
      for (let at = 0; at < piece.length; at += step) {
        const t = carry + utf8.write(piece.subarray(at, at + step));
        const cut = completeEscapes(t);
        carry = t.slice(cut);
        if (cut > 0) yield readJsonText(t.slice(0, cut));
      }
    }
    const rest = carry + utf8.end();
    if (rest !== '') yield readJsonText(rest);
  }

  /** What a log or JSON.stringify shows of it: its size, not its text. */
  toJSON(): string {
    return `[a string of ${this.bytes} bytes]`;
  }
}

/** The length of `t`'s longest start that cuts no escape (`\x`, `\uXXXX`) in two. */
function completeEscapes(t: string): number {
  for (let i = t.indexOf('\\'); i !== -1; ) {
    const length = t[i + 1] === 'u' ? 6 : 2;
    if (i + length > t.length) return i;
    i = t.indexOf('\\', i + length);
  }
  return t.length;
}

/** JSON text without its quotes, read as JSON.parse reads a string; without a backslash only control characters need a look. */
function readJsonText(t: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: raw control characters are what JSON refuses in a string
  return t.includes('\\') || /[\u0000-\u001f]/.test(t) ? (JSON.parse(`"${t}"`) as string) : t;
}
