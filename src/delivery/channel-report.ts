/**
 * What `serve` and `worker` say at start about delivery: which channels really send and which keep
 * messages in the outbox (where they end `captured`), and, in the background, whether the SMTP server
 * of SALVO_SMTP_URL answers. An unreachable server is a warning, not a refusal to start: it may come up
 * later, and email waits and retries until it does.
 */
import type { Config } from '../config.ts';
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
  ];
}

/**
 * Checks in the background that the SMTP server accepts a connection; calls `warn` with a line naming
 * it when it does not. Start-up does not wait for it.
 */
export function warnIfSmtpUnreachable(config: Config, warn: (line: string) => void, timeoutMs = SMTP_PROBE_MS): Promise<void> {
  if (!config.smtpUrl) return Promise.resolve();
  const url = config.smtpUrl;
  return probeSmtp(url, timeoutMs).then((answer) => {
    if (answer !== 'ok') warn(`salvo: warning: the SMTP server of SALVO_SMTP_URL (${hostOf(url)}) is ${answer}; email waits and retries until it answers`);
  });
}
