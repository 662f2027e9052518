/**
 * The egress policy (SALVO_EGRESS_DENY_PRIVATE): which addresses Salvo may connect to when a URL comes
 * from configuration or input (webhooks, SMS gateways and SMSCs, push services, OAuth token URIs).
 * Only global unicast addresses pass: loopback, private, link-local, unique-local, carrier-grade NAT,
 * unspecified, multicast, reserved and documentation ranges are refused, and so is an IPv6 address that
 * carries one of those IPv4 addresses (IPv4-mapped ::ffff:127.0.0.1, IPv4-compatible ::127.0.0.1 and
 * ::7f00:1, NAT64 64:ff9b::7f00:1, 6to4 2002:7f00:1::). The ranges are ipaddr.js's (a maintained list
 * of the IANA special-purpose registries) rather than our own table.
 */
import ipaddr from 'ipaddr.js';

const NAT64 = ipaddr.parse('64:ff9b::') as ipaddr.IPv6;

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64 well-known prefix, 6to4), or null. */
function embeddedIPv4(ip: ipaddr.IPv6): ipaddr.IPv4 | null {
  const p = ip.parts;
  const low = (hi: number, lo: number) => new ipaddr.IPv4([hi >> 8, hi & 0xff, lo >> 8, lo & 0xff]);
  const range = ip.range();
  if (range === 'ipv4Mapped') return ip.toIPv4Address();
  // ::a.b.c.d (IPv4-compatible, deprecated) and ::ffff:0:a.b.c.d (RFC 6145): the IPv4 address is the last 32 bits.
  if (p.slice(0, 6).every((x) => x === 0) || range === 'rfc6145') return low(p[6], p[7]);
  if (ip.match(NAT64, 96)) return low(p[6], p[7]);
  if (range === '6to4') return low(p[1], p[2]);
  return null;
}

/** Why `address` may not be connected to under the policy (its kind: "loopback", "private", ...), or null when it is public. */
export function addressProblem(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '').replace(/%.*$/, '');
  if (!ipaddr.isValid(bare)) return 'not an IP address';
  const ip = ipaddr.parse(bare);
  if (ip.kind() === 'ipv6') {
    const v4 = embeddedIPv4(ip as ipaddr.IPv6);
    if (v4) {
      const range = v4.range();
      // :: and ::1 carry 0.0.0.0 and 0.0.0.1: say what they are.
      if (bare === '::' || bare === '::1') return (ip as ipaddr.IPv6).range();
      return range === 'unicast' ? null : `${range}, as the IPv4 address ${v4.toString()} inside it`;
    }
  }
  const range = ip.range();
  return range === 'unicast' ? null : range;
}

/** The setting that turns the policy on, named in every refusal. */
const EGRESS_SETTING = 'SALVO_EGRESS_DENY_PRIVATE';

/** `what` resolves to, or is, `address`, which the policy refuses: the refusal's words. */
export const refusalText = (what: string, address: string, kind: string) =>
  `${what === address ? `${address} is` : `${what} resolves to ${address},`} a private address (${kind}): refused by ${EGRESS_SETTING}`;

/** Why the policy refuses a URL's host when it is an IP literal (no resolver is asked for those), or null (a name, or a public address). */
export function literalProblem(host: string): string | null {
  const bare = host.replace(/^\[|\]$/g, '');
  if (!ipaddr.isValid(bare)) return null;
  const kind = addressProblem(bare);
  return kind ? refusalText(bare, bare, kind) : null;
}

/** Whether the policy lets a connection go to `address`. */
export const isPublicAddress = (address: string): boolean => addressProblem(address) === null;

/** Names that only ever mean a machine of this network. */
const LOCAL_NAME = /(^|\.)(localhost|local|localdomain|internal|intranet|lan|home\.arpa|corp)$/i;

/**
 * Whether SALVO_PUBLIC_URL's host names a server the internet reaches: then the policy is on unless
 * set. An IP address by the policy; a name unless it is single-label or under a local-only suffix.
 */
export function isPublicHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (ipaddr.isValid(bare)) return isPublicAddress(bare);
  return bare.includes('.') && !LOCAL_NAME.test(bare.replace(/\.$/, ''));
}
