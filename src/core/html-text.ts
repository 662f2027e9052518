/**
 * The text/plain part of an HTML mail whose template has no text of its own: spam filters score
 * HTML-only mail worse, and some readers show only text. Made by html-to-text from the rendered HTML,
 * so every mail (sent, captured in the outbox or previewed by a dry run) carries the same text.
 */
import { compile } from 'html-to-text';

/**
 * Deeper nesting is cut: html-to-text walks the tree recursively, and a few hundred thousand nested
 * tags fit in a rendered HTML of 1 MiB. Real mail layouts nest tables some tens of levels deep.
 */
const MAX_DEPTH = 200;

/** Compiled once: the options are fixed, and compiling them per message would cost more than small mails do. */
const convert = compile({
  // 78: the line length RFC 5322 recommends.
  wordwrap: 78,
  // Links stay as `text [https://...]` (html-to-text's default); images say nothing in text.
  selectors: [{ selector: 'img', format: 'skip' }],
  limits: { maxDepth: MAX_DEPTH },
});

/**
 * HTML longer than this gets no text part. Conversion runs where the message is rendered (the
 * dispatcher's main thread), and at the render limit's 1 MiB took about a second (deep nesting grows
 * faster than linearly: 200,000 nested tags took 27 s). At this bound the worst shapes measured take
 * tens of milliseconds, up to 150 with deep nesting, a few hundred on a first run before the JIT
 * warms. Gmail clips mail over 102 KB anyway, so a longer mail is rare.
 */
export const MAX_HTML_FOR_TEXT = 131_072;

/** The text of rendered HTML, or undefined past MAX_HTML_FOR_TEXT; a typical mail takes under a millisecond. */
export function textOfHtml(html: string): string | undefined {
  return html.length > MAX_HTML_FOR_TEXT ? undefined : convert(html);
}
