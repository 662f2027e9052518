/**
 * The public links' use cases: a token read (core/public-links.ts), then the store writes what the
 * recipient did, in one transaction. An unsigned or altered token changes nothing and answers null.
 */
import { type Client, engagementDetail, isMachine } from '../core/engagement.ts';
import { readToken } from '../core/public-links.ts';
import type { EngagementStore, Transactions } from '../store/store.ts';

export interface EngagementDeps {
  store: Transactions<EngagementStore>;
  key: Buffer;
  clock?: () => number;
}

const now = (d: EngagementDeps) => (d.clock ?? Date.now)();

/** The one-click (or confirmed) unsubscribe of the message a token names. */
export async function unsubscribeThrough(d: EngagementDeps, token: string): Promise<'unsubscribed' | 'already' | null> {
  const id = readToken(d.key, 'u', token);
  if (id === null) return null;
  const r = await d.store.transaction((tx) => tx.unsubscribeByMessage(id, now(d)));
  return r?.outcome ?? null;
}

/** Whether a token is a real unsubscribe link (the confirmation page is shown only for one). */
export const isUnsubscribeToken = (d: EngagementDeps, token: string) => readToken(d.key, 'u', token) !== null;

export async function openThrough(d: EngagementDeps, token: string, client: Client): Promise<boolean> {
  const id = readToken(d.key, 'o', token);
  if (id === null) return false;
  const t = now(d);
  return d.store.transaction((tx) => tx.recordEngagement(id, 'open', (sentAt) => ({ machine: isMachine(client, sentAt, t), detail: engagementDetail(client) }), t));
}

/** The URL a click goes to, once recorded; null when the token was not signed for this URL. */
export async function clickThrough(d: EngagementDeps, token: string, url: string, client: Client): Promise<string | null> {
  const id = readToken(d.key, 'c', token, url);
  if (id === null) return null;
  const t = now(d);
  const found = await d.store.transaction((tx) => tx.recordEngagement(id, 'click', (sentAt) => ({ machine: isMachine(client, sentAt, t), detail: engagementDetail(client, url), url }), t));
  return found ? url : null;
}
