/** Whose an open or a click was, what of the client is kept, and the signed tokens of the public links. */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { addOpenPixel, trackClicks } from '../../src/core/email-links.ts';
import { engagementDetail, isMachine, MACHINE_WITHIN_MS } from '../../src/core/engagement.ts';
import { messageLinks, readToken } from '../../src/core/public-links.ts';

const BROWSER = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)';

describe('engagement rules', () => {
  it('marks fetches at once after the send, from Apple\'s proxies, or by scanners and libraries, as a machine\'s', () => {
    const sent = 1_000_000;
    assert.equal(isMachine({ ip: '203.0.113.9', userAgent: BROWSER }, sent, sent + MACHINE_WITHIN_MS - 1), true);
    assert.equal(isMachine({ ip: '203.0.113.9', userAgent: BROWSER }, sent, sent + 60_000), false);
    assert.equal(isMachine({ ip: '17.58.1.2', userAgent: BROWSER }, sent, sent + 60_000), true);
    for (const ua of ['curl/8.5.0', 'python-requests/2.31', 'Mozilla/5.0 (compatible; Barracuda Sentinel)', 'Googlebot/2.1', null]) {
      assert.equal(isMachine({ ip: '203.0.113.9', userAgent: ua }, sent, sent + 60_000), true, String(ua));
    }
  });

  it('keeps the client address truncated: IPv4 to /24, IPv6 to /48', () => {
    assert.equal(engagementDetail({ ip: '203.0.113.77', userAgent: 'UA' }), 'from 203.0.113.0/24 UA');
    assert.equal(engagementDetail({ ip: '::ffff:198.51.100.4', userAgent: null }), 'from 198.51.100.0/24');
    assert.equal(engagementDetail({ ip: '2001:db8:85a3:8d3:1319:8a2e:370:7348', userAgent: null }, 'https://x.example/'), 'https://x.example/ from 2001:db8:85a3::/48');
  });

  it('signs tokens per message, purpose and click target; anything altered reads as no message', () => {
    const key = randomBytes(32);
    const links = messageLinks(key, 'https://t.example/', 42);
    const token = (url: string) => url.split('/').pop()!.split('?')[0].replace(/\.gif$/, '');
    assert.equal(readToken(key, 'u', token(links.unsubscribe)), 42);
    assert.equal(readToken(key, 'o', token(links.unsubscribe)), null, 'an unsubscribe token is no open token');
    assert.equal(readToken(randomBytes(32), 'u', token(links.unsubscribe)), null, 'another key');
    const issued = token(links.unsubscribe);
    const last = issued.at(-1)!;
    const sameBits = 'AEIMQUYcgkosw048'.includes(last) ? String.fromCharCode(last.charCodeAt(0) + 1) : last === 'B' ? 'A' : null;
    if (sameBits) assert.equal(readToken(key, 'u', issued.slice(0, -1) + sameBits), null, 'a non-canonical spelling of the same bytes');
    const click = links.click('https://shop.example/a?b=1');
    assert.equal(readToken(key, 'c', token(click), 'https://shop.example/a?b=1'), 42);
    assert.equal(readToken(key, 'c', token(click), 'https://evil.example/'), null, 'another target');
    assert.equal(messageLinks(key, 'https://t.example', null).unsubscribe, 'https://t.example/u/preview');
  });

  it('rewrites http(s) links of the HTML only, decoding what the template escaped, and puts the pixel before </body>', () => {
    const links = messageLinks(randomBytes(32), 'https://t.example', 7);
    const html = `<p><a class="x" href="https://a.example/?q=1&amp;r=2">A</a> <a href='mailto:x@y.z'>M</a> <a href="#top">T</a> <a href="${links.unsubscribe}">U</a></p></body></html>`;
    const out = addOpenPixel(trackClicks(html, links), links);
    assert.match(out, new RegExp(`<a class="x" href="https://t\\.example/c/[0-9a-z]+\\.[A-Za-z0-9_-]{22}\\?u=${encodeURIComponent('https://a.example/?q=1&r=2').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}">A</a>`));
    assert.match(out, /<a href='mailto:x@y.z'>M<\/a> <a href="#top">T<\/a>/);
    assert.ok(out.includes(`<a href="${links.unsubscribe}">U</a>`), 'the unsubscribe link is not redirected');
    assert.match(out, /<img src="https:\/\/t\.example\/o\/[^"]+\.gif"[^>]*><\/body><\/html>$/);
  });
});
