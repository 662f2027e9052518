/**
 * A message rendered for its recipient, as its channel sends it: the dispatcher composes each message
 * before sending it, and a dry run composes the messages it previews, with the same code.
 */
import { withEmailLinks } from '../core/email-links.ts';
import { renderContextOf, renderMessage, type RenderedMessage } from '../core/message.ts';
import { bounceAddress, linkBase, messageLinks } from '../core/public-links.ts';
import { NO_PROVIDER_DEFAULTS, type ProviderDefaults, withProviderDefaults } from '../core/resource-settings.ts';
import type { RenderLimits } from '../core/template/render.ts';
import type { Campaign, NewMessage, Profile, Resource, Subscription, Template } from '../core/types.ts';
import { variantContent } from '../core/variants.ts';
import type { Catalog } from './catalog.ts';

/** A message that cannot be composed (its campaign, template or profile is gone, or it fails to render): no retry helps. */
export class ComposeError extends Error {
  readonly uncomposable = true;
}

/** What public links (unsubscribe, open pixel, click redirects) are made with: the store's key and the server's public URL. */
export interface LinkSigning {
  key: Buffer;
  publicUrl: string;
  /** SALVO_BOUNCE_DOMAIN: an email's Return-Path is its signed bounce address there (core/public-links.ts). */
  bounceDomain?: string | null;
}

export interface Recipient {
  profile: Profile;
  /** The subscription the message goes to, and all of the profile's (templates see both). */
  to: Subscription;
  subscriptions: Subscription[];
}

/** Renders message `m` (its A/B variant, its own field values) with the launch's content for its recipient. */
export async function composeMessage(
  catalog: Pick<Catalog, 'template' | 'resource'>,
  campaign: Campaign,
  m: Pick<NewMessage, 'variant' | 'overrides'>,
  apicontent: Record<string, unknown>,
  r: Recipient,
  o: { limits?: RenderLimits; providerDefaults?: ProviderDefaults; links?: LinkSigning & { messageId: number | null } },
): Promise<{ rendered: RenderedMessage; resource: Resource; template: Template }> {
  const content = variantContent(campaign.content, m.variant);
  if (!content) throw new ComposeError(`campaign ${campaign.id} has no content`);
  const [template, stored] = await Promise.all([catalog.template(content.message_id), catalog.resource(campaign.resource_id)]);
  if (!template || !stored) throw new ComposeError(`the template or resource of campaign ${campaign.id} no longer exists`);
  // The server-wide provider settings (SALVO_SMPP_URL, ...) fill what the resource leaves out.
  const resource = withProviderDefaults(stored, o.providerDefaults ?? NO_PROVIDER_DEFAULTS);
  const links = o.links ? messageLinks(o.links.key, linkBase(resource.tracking_domain, o.links.publicUrl), o.links.messageId) : null;
  try {
    const ctx = renderContextOf(r.profile, m.overrides, apicontent, r.to, r.subscriptions, links?.unsubscribe ?? '');
    const rendered = renderMessage(template, content, campaign, resource, r.to, ctx, o.limits);
    if (!links || rendered.channel !== 'email') return { rendered, resource, template };
    const email = resource.email;
    const options = { links, unsubscribeHeaders: !campaign.transactional, unsubscribeMailto: email?.unsubscribe_mailto, trackOpens: email?.track_opens === true, trackClicks: email?.track_clicks === true };
    const withLinks = withEmailLinks(rendered, options);
    const bounceDomain = o.links?.bounceDomain;
    const returnPath = bounceDomain && o.links?.messageId ? bounceAddress(o.links.key, o.links.messageId, bounceDomain) : undefined;
    return { rendered: returnPath ? { ...withLinks, returnPath } : withLinks, resource, template };
  } catch (e) {
    throw new ComposeError(`rendering failed: ${(e as Error).message}`);
  }
}
