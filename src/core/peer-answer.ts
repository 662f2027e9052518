/**
 * What a message's history keeps of a peer's answer (an SMS gateway, a push service, an OAuth token
 * endpoint): a short excerpt of a text or JSON body, on one line, without control or format
 * characters. A page (HTML, XML) is not kept at all: a URL that reaches an internal service by mistake or
 * on purpose must not have that service's page read back through messages/get.
 */

/** Characters of an answer kept, at most. */
const ANSWER_EXCERPT_CHARS = 80;

export function answerExcerpt(body: string, contentType = ''): string {
  const text = body.trim();
  if (!text) return '';
  if (/html|xml/i.test(contentType) || text.startsWith('<')) return '(a markup page, not kept)';
  const clean = text.replace(/[\p{C}\s]+/gu, ' ').trim();
  return clean.length > ANSWER_EXCERPT_CHARS ? `${clean.slice(0, ANSWER_EXCERPT_CHARS)}…` : clean;
}
