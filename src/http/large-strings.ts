/**
 * A large body's large strings, taken out before it is parsed (issue 24 item 5). A trigger with a 9 MB
 * attachment is a 12 MB body that is almost all one base64 string; joining its chunks, decoding them as
 * UTF-8 and JSON.parse each passed over all of it in one piece (30-40 ms each here, more on a busy machine),
 * then the base64 was sliced out of the string again. Instead, the string values that http/json-scan.ts
 * found to be LARGE_STRING_BYTES or more while the body arrived are cut out of it: the rest (the
 * skeleton) is parsed as before with a placeholder in each place, and each string is kept as the bytes
 * of its JSON text (core/json-string-bytes.ts), views of the body's chunks, never copied.
 *
 * Then an attachment's data (`attach[i].data`) stays a placeholder string while the route's schema is
 * checked, and is handed to the handler as the JsonStringBytes itself (the preHandler hook below), which
 * core/attachments.ts decodes a step at a time. Any other large string is made a string at once, as
 * JSON.parse would have made it. Placeholders hold a NUL, which no request may carry (http/json-body.ts
 * refuses it), and a random key per body, so no request can name one.
 */
import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { badRequest } from '../core/errors.ts';
import { JsonStringBytes } from '../core/json-string-bytes.ts';

/** Bodies from this size on have their large strings taken out; smaller ones are parsed whole. */
export const TAKE_OUT_FROM_BYTES = 1024 * 1024;

/** The body's bytes from `start` to `end` as views of its chunks. */
function viewsOf(chunks: Buffer[], start: number, end: number): Buffer[] {
  const views: Buffer[] = [];
  let at = 0;
  for (const chunk of chunks) {
    const from = Math.max(start, at);
    const to = Math.min(end, at + chunk.length);
    if (from < to) views.push(chunk.subarray(from - at, to - at));
    at += chunk.length;
    if (at >= end) break;
  }
  return views;
}

/** An attachment's data in the parsed body: where it goes back once the schema has passed. */
interface HeldString {
  holder: Record<string, unknown>;
  bytes: JsonStringBytes;
}

/** The skeleton to parse, and each placeholder's string. */
export function takeOut(chunks: Buffer[], total: number, spans: readonly { start: number; end: number }[]): { skeleton: string; strings: Map<string, JsonStringBytes> } {
  const key = randomBytes(8).toString('hex');
  const parts: Buffer[] = [];
  const strings = new Map<string, JsonStringBytes>();
  let at = 0;
  spans.forEach((span, i) => {
    parts.push(...viewsOf(chunks, at, span.start), Buffer.from(`\\u0000large string ${key} ${i}`));
    strings.set(`\u0000large string ${key} ${i}`, new JsonStringBytes(viewsOf(chunks, span.start, span.end), span.end - span.start));
    at = span.end;
  });
  parts.push(...viewsOf(chunks, at, total));
  return { skeleton: Buffer.concat(parts).toString('utf8'), strings };
}

/**
 * Puts the strings back into the parsed skeleton: other than an attachment's data, each is made a string
 * now. Answers the attachments' placeholders, which the NUL check lets pass.
 */
export function putBack(body: unknown, strings: Map<string, JsonStringBytes>, req: { heldStrings?: HeldString[] }): Set<string> {
  const held: HeldString[] = [];
  const placeholders = new Set<string>();
  type Role = 'root' | 'attach' | 'attach item' | 'other';
  const walk = (value: unknown, role: Role): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [k, v] of Object.entries(value)) {
      const bytes = typeof v === 'string' ? strings.get(v) : undefined;
      if (bytes === undefined) {
        walk(v, role === 'root' && k === 'attach' && Array.isArray(v) ? 'attach' : role === 'attach' ? 'attach item' : 'other');
      } else if (role === 'attach item' && k === 'data') {
        held.push({ holder: value as Record<string, unknown>, bytes });
        placeholders.add(v as string);
      } else {
        try {
          (value as Record<string, unknown>)[k] = bytes.text();
        } catch (e) {
          throw badRequest(`request body is not valid JSON: ${(e as Error).message}`);
        }
      }
    }
  };
  walk(body, Array.isArray(body) ? 'other' : 'root');
  req.heldStrings = held;
  return placeholders;
}

/** Hands each held attachment's data to the handler as its JsonStringBytes, once the route's schema has passed the placeholder. */
export function handOverHeldStrings(app: FastifyInstance): void {
  app.addHook('preHandler', async (req) => {
    for (const h of req.heldStrings ?? []) h.holder.data = h.bytes;
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Attachments' data taken out of a large body (http/large-strings.ts), handed over in preHandler. */
    heldStrings?: HeldString[];
  }
}
