/**
 * User regular expressions (`$regex` in `custom_request` and `content_filter`) on RE2, through re2js:
 * matching takes time linear in pattern × text, so no pattern can backtrack for ever (a ReDoS such
 * as `^(a|a)*$`). What RE2 cannot compile in linear time (backreferences, lookaround) is refused.
 *
 * Linear is not the same as fast: when RE2's DFA gives up on a pattern whose automaton explodes
 * (`(a|b).{30}z$`), re2js falls back to its NFA, measured here (2 cores, Node 20) at up to ~310 ns
 * per program instruction per character. So one match is also bounded by `work`, program size ×
 * characters; 150,000 of it is under 50 ms even on that worst path (typical patterns run on the DFA
 * or a literal search, 10-100× faster). A literal pattern is a plain substring search and costs nothing.
 */
import { RE2JS } from 're2js';

export const REGEX_LIMITS = { patternLength: 512, programSize: 2_000, work: 150_000 };

export interface UserRegex {
  /** Whether the pattern matches anywhere in `text` (MongoDB's $regex: a search, not a full match). */
  test(text: string): boolean;
  /** The work a match over `text` may take, in instruction × characters (0 for a literal search). */
  cost(text: string): number;
}

/** Why a pattern cannot be used, in words for a 400; null when it can. */
export type RegexProblem = string;

const FLAGS: Record<string, number> = { i: RE2JS.CASE_INSENSITIVE, m: RE2JS.MULTILINE, s: RE2JS.DOTALL, x: 0 };

/**
 * PCRE's extended mode (`x`), which RE2 lacks: whitespace and `#` comments outside character classes
 * are dropped; an escaped space or `#` stays a literal.
 */
export function stripExtended(pattern: string): string {
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\' && i + 1 < pattern.length) {
      const next = pattern[++i];
      out += /\s/.test(next) ? `\\x{${next.codePointAt(0)!.toString(16)}}` : c + next;
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c;
    } else if (c === '[') {
      inClass = true;
      out += c;
      // A ']' right after '[' or '[^' is a literal member, not the end of the class.
      if (pattern[i + 1] === '^') out += pattern[++i];
      if (pattern[i + 1] === ']') out += pattern[++i];
    } else if (c === '#') {
      while (i + 1 < pattern.length && pattern[i + 1] !== '\n') i++;
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

/** Compiles a user pattern with MongoDB's `$options` (letters of i, m, s, x), or says why not. */
export function compileUserRegex(pattern: string, options = ''): UserRegex | RegexProblem {
  if (pattern.length > REGEX_LIMITS.patternLength) return `longer than ${REGEX_LIMITS.patternLength} characters`;
  if (!/^[imsx]*$/.test(options)) return `$options takes letters of i, m, s, x, not '${options}'`;
  let flags = 0;
  for (const o of options) flags |= FLAGS[o];
  let re: RE2JS;
  try {
    re = RE2JS.compile(options.includes('x') ? stripExtended(pattern) : pattern, flags);
  } catch (e) {
    return `not a valid RE2 regular expression (${(e as Error).message}); RE2 syntax is required: no backreferences (\\1), lookahead or lookbehind ((?=, (?!, (?<=, (?<!), atomic groups or possessive quantifiers`;
  }
  const size = re.re2().numberOfInstructions();
  if (size > REGEX_LIMITS.programSize) return `compiles to ${size} instructions, more than ${REGEX_LIMITS.programSize}; use a simpler pattern (fewer counted repeats such as {1,500})`;
  const perChar = re.re2().prefixComplete ? 0 : size;
  return { test: (text) => re.test(text), cost: (text) => perChar * text.length };
}
