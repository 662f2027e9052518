/**
 * A/B content: a campaign's `content` holds one or more variants, each a template with its own
 * overrides and a weight. Each recipient gets one variant, chosen by weight from a hash of the
 * campaign and the profile: the same profile gets the same variant on every launch of the campaign
 * (as long as its variants and weights stay), a dry run previews exactly what a real launch will
 * choose, and a retried or re-driven message keeps the variant recorded on it.
 */
import { createHash } from 'node:crypto';
import type { CampaignContent } from './types.ts';

export const MAX_VARIANTS = 10;
export const MAX_WEIGHT = 1_000_000;

const weightOf = (c: CampaignContent) => c.weight ?? 1;

/** A uniform number in [0, 1) from the pair; SHA-256 spreads neighbouring ids evenly. */
function unitHash(campaignId: number, profileId: string): number {
  const h = createHash('sha256').update(`${campaignId}:${profileId}`).digest();
  return h.readUIntBE(0, 6) / 2 ** 48;
}

/** The index of the variant `profileId` gets in campaign `campaignId`'s `content`. */
export function chooseVariant(content: CampaignContent[], campaignId: number, profileId: string): number {
  if (content.length <= 1) return 0;
  const total = content.reduce((sum, c) => sum + weightOf(c), 0);
  let point = unitHash(campaignId, profileId) * total;
  for (const [i, c] of content.entries()) {
    point -= weightOf(c);
    if (point < 0) return i;
  }
  return content.length - 1;
}

/**
 * The content a message is sent with: the variant recorded on it. A message made before A/B content
 * (variant null), or whose variant was since removed from the campaign, gets the first.
 */
export function variantContent(content: CampaignContent[], variant: number | null): CampaignContent | undefined {
  return (variant !== null ? content[variant] : undefined) ?? content[0];
}

/** One line of campaigns/stats: messages of a variant (and template) by status. */
export interface VariantStats {
  variant: number;
  message_id: number | null;
  /** The variant's weight now; null when the campaign's content no longer has this variant. */
  weight: number | null;
  total: number;
  statuses: Record<string, number>;
}

/**
 * Counts by (variant, template, status) folded into one line per variant and template. Messages
 * made before A/B content (variant null) count as the first variant.
 */
export function variantStats(content: CampaignContent[], counts: { variant: number | null; template_id: number | null; status: string; n: number }[]): VariantStats[] {
  const lines = new Map<string, VariantStats>();
  for (const c of counts) {
    const variant = c.variant ?? 0;
    const key = `${variant}:${c.template_id}`;
    let line = lines.get(key);
    if (!line) {
      const now = content[variant];
      line = { variant, message_id: c.template_id, weight: now && (c.template_id === null || now.message_id === c.template_id) ? weightOf(now) : null, total: 0, statuses: {} };
      lines.set(key, line);
    }
    line.total += c.n;
    line.statuses[c.status] = (line.statuses[c.status] ?? 0) + c.n;
  }
  return [...lines.values()].sort((a, b) => a.variant - b.variant || (a.message_id ?? 0) - (b.message_id ?? 0));
}
