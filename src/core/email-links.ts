/**
 * What a campaign email carries beyond its template: the one-click unsubscribe headers (RFC 2369 and
 * RFC 8058), and, where the resource switches them on, the open pixel and click redirects.
 */
import type { MessageLinks } from './public-links.ts';
import type { EmailMessage } from './message.ts';

export interface EmailLinkOptions {
  links: MessageLinks;
  /** List-Unsubscribe and List-Unsubscribe-Post; false for a transactional campaign (receipts, password resets). */
  unsubscribeHeaders: boolean;
  /** A mailto: address added to List-Unsubscribe, where the resource sets one. */
  unsubscribeMailto?: string;
  trackOpens: boolean;
  trackClicks: boolean;
}

/** An `<a ...>` tag's href, double- or single-quoted. */
const ANCHOR_HREF = /(<a\b[^>]*?\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)')/gi;

/** The entities the template language writes when it escapes a value (core/template/render.ts), read back. */
const decodeEntities = (s: string) =>
  s.replace(/&(amp|lt|gt|quot|#39|#x27);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", '#x27': "'" })[e] ?? _);

const escapeAttribute = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * Every http(s) link of the HTML made a signed redirect to it. The unsubscribe link stays as it is (a
 * redirect would add nothing but a hop); mailto:, tel: and anchors are not links a person follows away.
 */
export function trackClicks(html: string, links: MessageLinks): string {
  return html.replace(ANCHOR_HREF, (whole, head: string, dq: string | undefined, sq: string | undefined) => {
    const url = decodeEntities((dq ?? sq ?? '').trim());
    if (!/^https?:\/\//i.test(url) || url === links.unsubscribe) return whole;
    return `${head}"${escapeAttribute(links.click(url))}"`;
  });
}

/** The open pixel, just before </body> (or at the end when the HTML has none). */
export function addOpenPixel(html: string, links: MessageLinks): string {
  const pixel = `<img src="${escapeAttribute(links.open)}" width="1" height="1" alt="" style="display:block;width:1px;height:1px;border:0">`;
  const at = html.search(/<\/body\s*>(?![\s\S]*<\/body\s*>)/i);
  return at < 0 ? html + pixel : html.slice(0, at) + pixel + html.slice(at);
}

export function withEmailLinks(msg: EmailMessage, o: EmailLinkOptions): EmailMessage {
  const headers: Record<string, string> = { ...msg.headers };
  if (o.unsubscribeHeaders) {
    headers['List-Unsubscribe'] = [`<${o.links.unsubscribe}>`, ...(o.unsubscribeMailto ? [`<mailto:${o.unsubscribeMailto}?subject=unsubscribe>`] : [])].join(', ');
    headers['List-Unsubscribe-Post'] = 'List-Unsubscribe=One-Click';
  }
  let html = msg.html;
  if (html !== undefined && o.trackClicks) html = trackClicks(html, o.links);
  if (html !== undefined && o.trackOpens) html = addOpenPixel(html, o.links);
  return { ...msg, ...(html !== undefined ? { html } : {}), ...(Object.keys(headers).length ? { headers } : {}) };
}
