/** A campaign's template rendered for one recipient: what a channel sends. */
import { badRequest } from './errors.ts';
import { textOfHtml } from './html-text.ts';
import { RENDER_LIMITS, RenderBudget, renderTemplate, type RenderContext, type RenderLimits } from './template/render.ts';
import { compileTemplate } from './templates.ts';
import { profileDocument, subscriptionView } from './profile.ts';
import type { Campaign, CampaignContent, Profile, Resource, Subscription, Template } from './types.ts';

interface Address {
  email: string;
  name?: string;
}

export interface EmailMessage {
  channel: 'email';
  to: string;
  from: Address;
  replyTo?: Address;
  subject: string;
  html?: string;
  text?: string;
  /** Headers beyond the usual ones: List-Unsubscribe and List-Unsubscribe-Post (core/email-links.ts). */
  headers?: Record<string, string>;
  /** The envelope sender (MAIL FROM, which receivers keep as Return-Path): the message's bounce address, where one is set up. */
  returnPath?: string;
}
interface SmsMessage {
  channel: 'sms';
  to: string;
  sender?: string;
  text: string;
}
interface PushMessage {
  channel: 'push';
  to: string;
  provider: string;
  title: string;
  body: string;
  url?: string;
  icon?: string;
}
export type RenderedMessage = EmailMessage | SmsMessage | PushMessage;

/** What a template sees for one recipient: the profile (with the message's own field values), the launch's content, the subscriptions, its unsubscribe URL. */
export function renderContextOf(
  profile: Profile,
  overrides: Record<string, unknown> | null,
  apicontent: Record<string, unknown>,
  to: Subscription,
  subscriptions: Subscription[],
  unsubscribe = '',
): RenderContext {
  return {
    lead: { ...profileDocument(profile), ...overrides },
    apicontent,
    subscription: subscriptionView(to),
    subscriptions: subscriptions.map(subscriptionView),
    unsubscribe,
  };
}

/**
 * Renders every field of the message with `content` (the message's A/B variant: its template's
 * overrides); one step budget is shared by all of them, one step budget is shared by all of them, the output limit
 * applies to each. Throws RenderLimitError (template/render.ts) past `limits`.
 */
export function renderMessage(
  template: Template,
  content: CampaignContent,
  campaign: Campaign,
  resource: Resource,
  to: Subscription,
  ctx: RenderContext,
  limits: RenderLimits = RENDER_LIMITS,
): RenderedMessage {
  const budget = new RenderBudget(limits);
  const render = (src: string | undefined, ctx: RenderContext, html = false) => (src === undefined ? undefined : renderTemplate(compileTemplate(src), ctx, { html, budget }));
  if (campaign.send_channel === 'email') {
    const t = template.channels.email;
    const sender = resource.email;
    if (!t || !sender) throw badRequest(`campaign ${campaign.id} has no email template or sender`);
    const fromEmail = content.from_email ?? t.from_email ?? sender.from_email;
    const fromName = render(content.from_name ?? t.from_name, ctx) ?? sender.from_name;
    const replyEmail = content.replyto_email ?? t.replyto_email ?? sender.replyto_email;
    const replyName = content.replyto_name ?? t.replyto_name ?? sender.replyto_name;
    const subject = render(content.subject ?? t.subject, ctx)!;
    const html = render(t.html, ctx, true);
    // A template without text gets one made from its HTML: HTML-only mail scores worse with spam filters.
    const text = t.text !== undefined ? render(t.text, ctx) : html !== undefined ? textOfHtml(html) : undefined;
    return {
      channel: 'email',
      to: to.address,
      from: { email: fromEmail, ...(fromName ? { name: fromName } : {}) },
      ...(replyEmail ? { replyTo: { email: replyEmail, ...(replyName ? { name: replyName } : {}) } } : {}),
      subject,
      ...(html !== undefined ? { html } : {}),
      ...(text !== undefined ? { text } : {}),
    };
  }
  if (campaign.send_channel === 'sms') {
    const t = template.channels.sms;
    if (!t) throw badRequest(`campaign ${campaign.id} has no sms template`);
    return { channel: 'sms', to: to.address, ...(resource.sms?.sender ? { sender: resource.sms.sender } : {}), text: render(t.text, ctx)! };
  }
  const t = template.channels.push;
  if (!t) throw badRequest(`campaign ${campaign.id} has no push template`);
  return {
    channel: 'push',
    to: to.address,
    provider: to.provider ?? '',
    title: render(t.title, ctx)!,
    body: render(t.body, ctx)!,
    ...(t.url !== undefined ? { url: render(t.url, ctx) } : {}),
    ...(t.icon !== undefined ? { icon: t.icon } : {}),
  };
}
