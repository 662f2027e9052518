/**
 * The egress policy when a setting is saved (webhooks/add|update, resources/add|update): a URL whose
 * host is a private address, or resolves to one now, is refused with 400. The check at connect time
 * (delivery/egress.ts) stays: a name may resolve differently when the message is sent.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { addressProblem, literalProblem, refusalText } from '../core/egress.ts';

/** Why the policy refuses `host`, or null. A name that does not resolve now passes: each connection checks it. */
async function hostRefusal(host: string): Promise<string | null> {
  const literal = literalProblem(host);
  const bare = host.replace(/^\[|\]$/g, '');
  if (literal || isIP(bare)) return literal;
  try {
    for (const a of await lookup(bare, { all: true })) {
      const kind = addressProblem(a.address);
      if (kind) return refusalText(bare, a.address, kind);
    }
  } catch {
    // Not resolvable now (a name that will exist, no DNS here): each connection checks the address it goes to.
  }
  return null;
}

/** The first refusal among `urls` (each with the field it came from), as a 400's text, or null. */
export async function urlsRefusal(urls: { field: string; url: string }[]): Promise<string | null> {
  for (const { field, url } of urls) {
    const why = await hostRefusal(new URL(url).hostname);
    if (why) return `field '${field}': ${why}`;
  }
  return null;
}
