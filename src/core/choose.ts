/**
 * Which subscription of a profile a campaign's message goes to, or why it goes nowhere. Global
 * status first; then the campaign's channel and resource; then `subscription_filter`; then status
 * (subscribed only, unless the campaign sends unconditionally) and priority (best first).
 */
import type { Campaign, Profile, Subscription } from './types.ts';

export interface SubscriptionFilter {
  email?: string;
  phone?: string;
  subscription_id?: string;
  provider?: string;
  not_strict: boolean;
}

export type Choice = { subscription: Subscription } | { skip: string };

/** Skip reasons as stored on skipped messages. */
export const SKIP = {
  noSubscription: 'no_subscription',
  filterNotMatched: 'filter_not_matched',
  recentlySent: 'recently_sent',
} as const;

function matchesFilter(s: Subscription, f: SubscriptionFilter): boolean {
  if (f.email !== undefined && s.address !== f.email) return false;
  if (f.phone !== undefined && s.address !== f.phone) return false;
  if (f.subscription_id !== undefined && s.address !== f.subscription_id) return false;
  if (f.provider !== undefined && s.provider !== f.provider) return false;
  return true;
}

/** `subscriptions` are the profile's, best first (highest priority, then oldest). */
export function chooseSubscription(
  profile: Profile,
  subscriptions: Subscription[],
  campaign: Pick<Campaign, 'send_channel' | 'resource_id' | 'unconditional_sending'>,
  filter: SubscriptionFilter | null,
): Choice {
  if (profile.status !== 'active') return { skip: `profile_${profile.status}` };
  const fitting = subscriptions.filter((s) => s.channel === campaign.send_channel && s.resource_id === campaign.resource_id);
  if (fitting.length === 0) return { skip: SKIP.noSubscription };
  const sendable = (list: Subscription[]) => list.find((s) => campaign.unconditional_sending || s.status === 'subscribed');
  if (filter) {
    const named = fitting.filter((s) => matchesFilter(s, filter));
    const pick = sendable(named);
    if (pick) return { subscription: pick };
    if (!filter.not_strict) return { skip: named.length ? named[0].status : SKIP.filterNotMatched };
  }
  const pick = sendable(fitting);
  return pick ? { subscription: pick } : { skip: fitting[0].status };
}
