/**
 * The one signing module of the public links a message carries: its unsubscribe URL, its open pixel and
 * its click redirects. A token names the message and is signed with the store's link key (HMAC-SHA256,
 * 128 bits kept), so it cannot be guessed or altered: an unsigned or changed token is no message at all.
 * A click's signature covers its target URL too, so the redirect is never an open redirect.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** What a token is for: `u` unsubscribe, `o` open pixel, `c` click, `b` bounce address. One message's tokens differ by purpose. */
export type LinkPurpose = 'u' | 'o' | 'c' | 'b';

const SIGNATURE_BYTES = 16;
const TOKEN = /^([0-9a-z]{1,12})\.([A-Za-z0-9_-]{22})$/;

const mac = (key: Buffer, purpose: LinkPurpose, messageId: number, target: string) =>
  createHmac('sha256', key).update(`${purpose}\n${messageId}\n${target}`).digest().subarray(0, SIGNATURE_BYTES);

/** The token of message `messageId` for `purpose` (a click's `target` is its URL). */
function signToken(key: Buffer, purpose: LinkPurpose, messageId: number, target = ''): string {
  return `${messageId.toString(36)}.${mac(key, purpose, messageId, target).toString('base64url')}`;
}

/** The message a token names, or null when it is not one this key signed for this purpose (and target). */
export function readToken(key: Buffer, purpose: LinkPurpose, token: string, target = ''): number | null {
  const m = TOKEN.exec(token);
  if (!m) return null;
  const messageId = Number.parseInt(m[1], 36);
  if (!Number.isSafeInteger(messageId) || messageId < 1) return null;
  const given = Buffer.from(m[2], 'base64url');
  // The last of 22 characters carries 4 unused bits: only the canonical spelling is the token, so no other
  // string than the one issued names the message.
  if (given.toString('base64url') !== m[2]) return null;
  return given.length === SIGNATURE_BYTES && timingSafeEqual(given, mac(key, purpose, messageId, target)) ? messageId : null;
}

/** The paths of the public link family (http/routes/public-links.ts serves them). */
export const PUBLIC_PATHS = { unsubscribe: '/u/', open: '/o/', click: '/c/' } as const;

/**
 * The public links of one message under `base` (the resource's tracking domain, else SALVO_PUBLIC_URL).
 * `messageId` null: a dry run's preview, whose links name no message and answer 404.
 */
export function messageLinks(key: Buffer, base: string, messageId: number | null) {
  const root = base.replace(/\/+$/, '');
  const token = (purpose: LinkPurpose, target = '') => (messageId === null ? 'preview' : signToken(key, purpose, messageId, target));
  return {
    unsubscribe: `${root}${PUBLIC_PATHS.unsubscribe}${token('u')}`,
    open: `${root}${PUBLIC_PATHS.open}${token('o')}.gif`,
    click: (url: string) => `${root}${PUBLIC_PATHS.click}${token('c', url)}?u=${encodeURIComponent(url)}`,
  };
}

export type MessageLinks = ReturnType<typeof messageLinks>;

/** The base URL of a resource's public links: https://<tracking_domain>, else the server's public URL. */
export function linkBase(trackingDomain: string | null | undefined, publicUrl: string): string {
  if (!trackingDomain) return publicUrl;
  return /^https?:\/\//i.test(trackingDomain) ? trackingDomain : `https://${trackingDomain}`;
}

/**
 * The bounce address (VERP) of a message: its Return-Path, `b-<id>-<signature>@<bounce domain>`. Lower-case
 * hex, since mail systems may change the case of a local part; 128 bits of signature, so it cannot be guessed.
 */
export function bounceAddress(key: Buffer, messageId: number, domain: string): string {
  return `b-${messageId.toString(36)}-${mac(key, 'b', messageId, '').toString('hex')}@${domain.toLowerCase()}`;
}

const BOUNCE_LOCAL = /^b-([0-9a-z]{1,12})-([0-9a-f]{32})$/;

/** The message a bounce address names, or null when it is not one this key signed for `domain`. */
export function readBounceAddress(key: Buffer, address: string, domain: string): number | null {
  const at = address.lastIndexOf('@');
  if (at < 0 || address.slice(at + 1).toLowerCase() !== domain.toLowerCase()) return null;
  const m = BOUNCE_LOCAL.exec(address.slice(0, at).toLowerCase());
  if (!m) return null;
  const messageId = Number.parseInt(m[1], 36);
  if (!Number.isSafeInteger(messageId) || messageId < 1) return null;
  return timingSafeEqual(Buffer.from(m[2], 'hex'), mac(key, 'b', messageId, '')) ? messageId : null;
}
