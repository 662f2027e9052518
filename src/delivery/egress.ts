/**
 * The egress policy at the connection (core/egress.ts says which addresses pass): every connection
 * Salvo makes because of configuration or input (webhooks, SMS gateways and SMSCs, push services, OAuth
 * token URIs) resolves its host through `guardedLookup`, the resolver the socket itself uses, so the
 * address checked is the address connected to: a name that answers a public address when a setting is
 * saved and a private one when the message is sent (DNS rebinding) is refused at connect time. An IP
 * literal skips the resolver, so `literalRefusal` checks it before the connection is made.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { addressProblem, literalProblem, refusalText } from '../core/egress.ts';

/** A connection the policy refused (code EGRESS_DENIED): a send that meets it fails for good, no retry can help. */
export class EgressDenied extends Error {
  readonly code = 'EGRESS_DENIED';
}

/** dns.lookup that refuses private answers (every address, not just the first). */
export const guardedLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (err, addresses: LookupAddress[]) => {
    if (err) return callback(err, '', 0);
    for (const a of addresses) {
      const kind = addressProblem(a.address);
      if (kind) return callback(new EgressDenied(refusalText(hostname, a.address, kind)), '', 0);
    }
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
    callback(null, addresses[0].address, addresses[0].family);
  });
};

/** An IP-literal host the policy refuses, or null. */
export function literalRefusal(host: string): EgressDenied | null {
  const why = literalProblem(host);
  return why ? new EgressDenied(why) : null;
}
