/** Message rows for a launch's profiles: the subscription each message goes to, or why it is skipped. */
import { SKIP, chooseSubscription, type SubscriptionFilter } from '../core/choose.ts';
import type { Campaign, NewMessage, Profile } from '../core/types.ts';
import { chooseVariant } from '../core/variants.ts';
import type { MessageStore, ProfileStore } from '../store/store.ts';

/** Queue priorities: one API trigger overtakes a fan-out, which overtakes a batch task. */
export const PRIORITY = { trigger: 100, audience: 50, batch: 20 } as const;

/** Message rows for profiles of a campaign: the subscription each goes to, or why it is skipped. */
export async function messagesFor(
  store: Pick<ProfileStore, 'getSubscriptions'> & Pick<MessageStore, 'recentRecipients'>,
  campaign: Campaign,
  profiles: Profile[],
  filter: SubscriptionFilter | null,
  o: {
    now: number;
    priority: number;
    /** Field values for one profile's message only (v1.0 fields). */
    overrides?: Map<string, Record<string, unknown>>;
    /** A batch item's own custom_data, by profile. */
    customData?: Map<string, Record<string, unknown>>;
    /** Not sent before then (import_and_start's timeout): the message waits. */
    notBefore?: number;
  },
): Promise<NewMessage[]> {
  if (profiles.length === 0) return [];
  const ids = profiles.map((p) => p.id);
  const subscriptions = await store.getSubscriptions(ids);
  const recent = campaign.skip_minutes > 0 ? await store.recentRecipients(campaign.id, ids, o.now - campaign.skip_minutes * 60_000) : new Set<string>();
  const byProfile = new Map<string, typeof subscriptions>();
  for (const s of subscriptions) byProfile.set(s.profile_id, [...(byProfile.get(s.profile_id) ?? []), s]);
  return profiles.map((p) => {
    const choice = recent.has(p.id) ? { skip: SKIP.recentlySent } : chooseSubscription(p, byProfile.get(p.id) ?? [], campaign, filter);
    const sub = 'subscription' in choice ? choice.subscription : null;
    const delayed = sub !== null && o.notBefore !== undefined && o.notBefore > o.now;
    // Chosen now, not at send time, so the record and campaigns/stats are exact before anything is sent.
    const variant = chooseVariant(campaign.content, campaign.id, p.id);
    return {
      campaign_id: campaign.id,
      profile_id: p.id,
      subscription_id: sub?.id ?? null,
      channel: campaign.send_channel,
      address: sub?.address ?? null,
      status: sub ? (delayed ? 'waiting' : 'queued') : 'skipped',
      skip_reason: 'skip' in choice ? choice.skip : null,
      priority: o.priority,
      next_attempt_at: delayed ? o.notBefore! : o.now,
      overrides: o.overrides?.get(p.id) ?? null,
      custom_data: o.customData?.get(p.id) ?? null,
      variant,
      template_id: campaign.content[variant]?.message_id ?? null,
    };
  });
}

