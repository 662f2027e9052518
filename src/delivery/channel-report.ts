/**
 * What `serve` and `worker` say at start about delivery: which channels really send and which keep
 * messages in the outbox (where they end `captured`), and, in the background, whether the peers the
 * settings name answer (SMTP, SMSCs, SMS gateways, push endpoints). An unreachable peer is a warning, not a
 * refusal to start: it may come up later, and its messages wait and retry until it does.
 */
import type { Config } from '../config.ts';
import type { Resource } from '../core/types.ts';
import { probeSmtp } from './readiness.ts';

/** How long the start-up probe of the SMTP server waits for a TCP connection. */
const SMTP_PROBE_MS = 2000;

/** A URL's host and port, without its credentials, for printing. */
const hostOf = (url: string) => new URL(url).host;

/** One line per channel: where its messages go in this configuration. */
export function channelLines(config: Config): string[] {
  const { smppUrl, webpush } = config.providerDefaults;
  // SMS and push choose their provider per resource (its settings), so the defaults only say what a resource without its own gets.
  const perResource = 'unless its resource sets a provider';
  return [
    `email: ${config.smtpUrl ? `sent over SMTP to ${hostOf(config.smtpUrl)}` : 'captured in the outbox (no SALVO_SMTP_URL)'}`,
    `sms: ${smppUrl ? `sent over SMPP to ${hostOf(smppUrl)}, or its resource's own provider` : `captured in the outbox ${perResource} (no SALVO_SMPP_URL)`}`,
    `push: ${webpush ? `Web Push sent with the SALVO_VAPID_* keys; FCM and APNs captured in the outbox ${perResource}` : `captured in the outbox ${perResource} (no SALVO_VAPID_*)`}`,
    `private addresses for providers and webhooks: ${config.egress.denyPrivate ? 'refused' : 'allowed'}, egress policy ${config.egress.why}`,
  ];
}

/** A peer the settings name: what it is, in the warning's words, and its URL. */
interface NamedPeer {
  what: string;
  url: string;
  waits: string;
}

/**
 * The peers the settings name: the SMTP server, the default SMSC, and each resource's SMSC, SMS gateway
 * and push endpoints (where a resource names one; FCM's and APNs' public defaults are not probed).
 */
export function namedPeers(config: Config, resources: Resource[]): NamedPeer[] {
  const peers: NamedPeer[] = [];
  if (config.smtpUrl) peers.push({ what: 'the SMTP server of SALVO_SMTP_URL', url: config.smtpUrl, waits: 'email waits and retries' });
  const smpp = config.providerDefaults.smppUrl;
  if (smpp) peers.push({ what: 'the SMSC of SALVO_SMPP_URL', url: smpp, waits: 'SMS waits and retries' });
  for (const r of resources) {
    const own = (what: string, url: string | undefined, waits: string) => url && peers.push({ what: `${what} of resource ${r.id}`, url, waits });
    own('the SMSC', r.sms?.smpp?.url, 'its SMS wait and retry');
    // A gateway URL carries {to}, {sender}, {text}: only its host is probed.
    own('the SMS gateway', r.sms?.http?.url.replace(/\{[a-z]+\}/g, 'x'), 'its SMS wait and retry');
    own('the FCM endpoint', r.push?.fcm?.endpoint, 'its pushes wait and retry');
    own('the APNs endpoint', r.push?.apns?.endpoint, 'its pushes wait and retry');
  }
  return peers;
}

/**
 * Checks in the background that every peer the settings name accepts a connection; calls `warn` with a
 * line naming each that does not (its host only: URLs may hold credentials). Start-up does not wait for it.
 */
export async function warnIfPeersUnreachable(config: Config, resources: Resource[], warn: (line: string) => void, timeoutMs = SMTP_PROBE_MS): Promise<void> {
  await Promise.all(
    namedPeers(config, resources).map(async (p) => {
      let host: string;
      try {
        host = hostOf(p.url);
      } catch {
        return; // not a URL: refused when it was saved, never here
      }
      const answer = await probeSmtp(p.url, timeoutMs);
      if (answer !== 'ok') warn(`salvo: warning: ${p.what} (${host}) is ${answer}; ${p.waits} until it answers`);
    }),
  );
}
