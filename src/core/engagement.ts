/**
 * Reading an open or a click: whose it was (a person's, or a machine's: a privacy proxy or a link scanner,
 * which fetch every image and link of a mail), and what of the client is kept (its address truncated).
 */
import { isIP } from 'node:net';

/** A fetch this soon after the send is a scanner's or a proxy's: no person opens a mail that fast. */
export const MACHINE_WITHIN_MS = 2_000;

/** Link scanners, preview fetchers and HTTP libraries, by user agent. */
const MACHINE_AGENTS =
  /bot\b|crawler|spider|preview|scanner|barracuda|proofpoint|mimecast|safelinks|urldefense|symantec|forcepoint|trendmicro|python-|curl\/|wget\/|go-http-client|okhttp|headless|java\//i;

/** Apple's Mail Privacy Protection fetches through Apple's own network (17.0.0.0/8). */
const isAppleProxy = (ip: string) => /^17\./.test(ip) || /^::ffff:17\./i.test(ip);

export interface Client {
  ip: string | null;
  userAgent: string | null;
}

export function isMachine(c: Client, sentAt: number | null, now: number): boolean {
  if (sentAt !== null && now - sentAt < MACHINE_WITHIN_MS) return true;
  if (c.ip && isAppleProxy(c.ip)) return true;
  return !c.userAgent || MACHINE_AGENTS.test(c.userAgent);
}

/** The client address as kept: an IPv4 address to its /24, an IPv6 one to its /48. */
function truncatedIp(ip: string | null): string {
  if (!ip) return 'unknown';
  const v4 = ip.replace(/^::ffff:/i, '');
  if (isIP(v4) === 4) return `${v4.split('.').slice(0, 3).join('.')}.0/24`;
  if (isIP(ip) === 6) {
    const [head] = ip.split('::');
    const groups = head.split(':').filter(Boolean).slice(0, 3);
    while (groups.length < 3) groups.push('0');
    return `${groups.join(':')}::/48`;
  }
  return 'unknown';
}

/** The history text of an engagement: the URL (clicks), the truncated address, the user agent (cut short). */
export function engagementDetail(c: Client, url?: string): string {
  return [url, `from ${truncatedIp(c.ip)}`, c.userAgent ? c.userAgent.slice(0, 120) : null].filter(Boolean).join(' ');
}
