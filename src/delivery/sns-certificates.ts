/**
 * The certificates SNS signs its messages with: fetched from the https://sns.<region>.amazonaws.com URL a
 * message names (nowhere else: core/email-services.ts), kept for the process's life (a handful of them),
 * or one pinned by SALVO_SES_SIGNING_CERT for machines with no way out to AWS.
 */
import { readFileSync } from 'node:fs';
import { isSnsCertUrl } from '../core/email-services.ts';

const MAX_CACHED = 20;
const MAX_BYTES = 16 * 1024;

export class SnsCertificates {
  private readonly cache = new Map<string, string>();
  private readonly pinned: string | null;

  constructor(pinnedFile: string | null, private readonly timeoutMs = 5000) {
    try {
      this.pinned = pinnedFile ? readFileSync(pinnedFile, 'utf8') : null;
    } catch (e) {
      throw new Error(`SALVO_SES_SIGNING_CERT: cannot read ${pinnedFile}: ${(e as Error).message}`);
    }
  }

  /** The certificate for `url`; throws when it cannot be had (the post is then answered 503, and SNS retries it). */
  async get(url: string): Promise<string> {
    if (this.pinned) return this.pinned;
    if (!isSnsCertUrl(url)) throw Object.assign(new Error('SigningCertURL is not an https://sns.<region>.amazonaws.com certificate'), { forged: true });
    const cached = this.cache.get(url);
    if (cached) return cached;
    const r = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs), redirect: 'error' });
    const pem = await r.text();
    if (!r.ok || pem.length > MAX_BYTES || !pem.includes('BEGIN CERTIFICATE')) throw new Error(`the SNS certificate at ${url} could not be read (HTTP ${r.status})`);
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(url, pem);
    return pem;
  }
}
