/** messages/list, messages/get and messages/retry (the message log), outbox/list and outbox/get (the capture outbox). */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { toId } from '../../core/ids.ts';
import { CHANNELS, MESSAGE_STATUSES } from '../../core/types.ts';
import type { LaunchDeps } from '../../engine/launch.ts';
import { cancelQueued, listMessages, listOutbox, messageDetail, messageView, outboxDetail, outboxView, redriveFailed } from '../../engine/messages.ts';
import { method } from '../api.ts';
import { answer, bigId, filters, id, int, list, nullable, oneOf, object, settingsOrNull, str, text } from '../schemas.ts';

const cursor = bigId('next_cursor of the previous page');
const limit = int('At most this many (default 100)', 1, 1000);
/** Messages messages/retry re-drives in one call at most; `more: true` says to call again. */
const REDRIVE_LIMIT = 10_000;
const pageExtra = { next_cursor: Type.Optional(Type.Integer({ description: 'cursor of the next page; absent on the last page' })) };
/** The keys beside `data` of a page: next_cursor while more rows follow. */
const nextCursor = (n: number | null) => (n === null ? {} : { next_cursor: n });

const count = (description: string) => Type.Integer({ description });
const messageProperties = {
  id: count('Message id'),
  launch_id: count('Launch id'),
  campaign_id: count('Campaign id'),
  profile_id: text('Profile id'),
  channel: text('email, sms or push'),
  address: nullable('string', 'Email address, phone or push subscription id; null when the profile had none'),
  status: text(MESSAGE_STATUSES.join(', ')),
  skip_reason: nullable('string', 'Why the message was skipped'),
  variant: nullable('integer', 'A/B content: index of the variant in the campaign content; null for a message made before A/B content'),
  template_id: nullable('integer', 'The template the message is sent with; null for a message made before A/B content'),
  attempts: count('Send attempts so far'),
  last_error: nullable('string', "The last attempt's error"),
  next_attempt: nullable('string', 'Next attempt of a waiting message (ISO 8601)'),
  created: text('Created (ISO 8601)'),
  updated: text('Updated (ISO 8601)'),
  sent: nullable('string', 'Sent, or captured in the outbox (ISO 8601)'),
  provider_message_id: nullable('string', "The provider's id for the message (an SMS's first part at the SMSC); null when none"),
  opens: count("Email: opens of its pixel by a person (docs/api.md, Unsubscribe, opens and clicks)"),
  clicks: count('Email: clicks of its tracked links by a person'),
  machine_opens: count("Email: opens by a machine (a scanner, Apple Mail Privacy Protection's prefetch), not counted as read"),
  machine_clicks: count('Email: clicks by a machine (a link scanner)'),
  unsubscribed: nullable('string', 'When its recipient unsubscribed through its link (ISO 8601); null when not'),
};
const attachment = answer({ name: text('File name'), mime: text('MIME type'), size: count('Bytes') });
/** messages/get's sent_copy (core/sent-copy.ts): one shape for the three channels, each key saying which it belongs to. */
const sentCopy = settingsOrNull(
  {
    channel: oneOf(CHANNELS, 'The channel it was sent on'),
    to: text('The recipient: email address, phone or push subscription id'),
    from: nullable('string', 'Email: the From header (`Name <address>`); SMS: the sender, null when the resource sets none'),
    reply_to: nullable('string', 'Email: the Reply-To header; null when none'),
    return_path: nullable('string', "Email: the envelope sender (MAIL FROM, the receiver's Return-Path), the message's bounce address; null when none"),
    headers: Type.Unsafe<Record<string, string>>({
      type: 'object',
      additionalProperties: { type: 'string' },
      description: 'Email: the headers Salvo set beyond From, To, Reply-To and Subject (Message-ID, List-Unsubscribe, List-Unsubscribe-Post, X-Salvo-Message-Id, X-Salvo-Launch-Id)',
    }),
    text: nullable('string', 'Email: the text part as sent (cut at SALVO_KEEP_BODY characters); null when the mail had none'),
    dkim: settingsOrNull({ domain: text('d='), selector: text('s=') }, 'Email: the DKIM signature it was signed with; null when unsigned', ['domain', 'selector']),
    attachments: list(attachment, 'Email: the attachments it carried (at most 50 listed)'),
    attachments_more: count('Email: attachments beyond the 50 listed'),
    parts: count('SMS: the parts the SMSC numbered (0 when not known: an HTTP gateway, the outbox)'),
    provider: text('Push: the provider (webpush, fcm, apns)'),
    url: nullable('string', 'Push: the link it opens'),
    icon: nullable('string', 'Push: its icon'),
  },
  'What was sent besides subject and body, kept with the body (SALVO_KEEP_BODY, SALVO_RETAIN_BODIES) and erased with it by profiles/delete; null before it is sent, when not kept, and for messages sent before this was recorded',
  ['channel', 'to'],
);
const outboxProperties = {
  id: count('Outbox entry id'),
  message_id: count('Message id'),
  channel: text('email, sms or push'),
  recipient: text('Email address, phone or push subscription id'),
  sender: nullable('string', 'Sender'),
  subject: nullable('string', 'Subject'),
  body: nullable('string', 'Text body (or the SMS text, the push body)'),
  html: nullable('string', 'HTML body'),
  extra: answer(
    {
      attachments: Type.Optional(list(attachment, "Email: the attachments' names, types and sizes")),
      provider: Type.Optional(text('Push: the provider')),
      url: Type.Optional(nullable('string', 'Push: the link it opens')),
      icon: Type.Optional(nullable('string', 'Push: its icon')),
    },
    'Channel details',
  ),
  created: text('Captured (ISO 8601)'),
};

export const messageRoutes: FastifyPluginAsyncTypebox<Pick<LaunchDeps, 'store' | 'wake'>> = async (app, { store, wake }) => {
  method(app, '/messages/list', 'messages', {
    summary: 'Messages, newest first, by campaign, launch, profile, email, phone, status, channel or provider message id; next_cursor pages on',
    description: 'The filters narrow each other; a key that is no filter is refused (400), never ignored.',
    body: filters({
      campaign_id: id('Campaign id'),
      launch_id: bigId('Launch id (the Launch-Id header of a start)'),
      profile_id: str('Profile id', 24),
      email: str('The address an email was sent to (case-insensitive)', 254),
      phone: str('The phone an SMS was sent to (exact)', 32),
      status: oneOf(MESSAGE_STATUSES, 'Message status (delivered and undelivered come from SMS delivery receipts)'),
      provider_message_id: str("The provider's id for the message (the SMSC's message_id of an SMS's first part)", 128),
      channel: oneOf(CHANNELS, 'Channel'),
      cursor,
      limit,
    }),
    data: list(answer(messageProperties), 'Messages'),
    extra: pageExtra,
    handler: async (body) => {
      const filter = { ...body, campaign_id: body.campaign_id === undefined ? undefined : toId(body.campaign_id, 'campaign_id') };
      const page = await listMessages(store, filter, body.cursor ?? null, body.limit ?? 100);
      return { data: page.rows.map(messageView), extra: nextCursor(page.nextCursor) };
    },
  });

  method(app, '/messages/get', 'messages', {
    summary: 'One message: status history, attempts, last error, what was sent, attachment names, custom_data',
    body: object({ id: bigId('Message id') }, ['id']),
    data: answer({
      ...messageProperties,
      history: list(
        answer({
          status: text('Status entered'),
          time: text('When (ISO 8601)'),
          detail: Type.Optional(text('Why, or which attempt')),
          omitted: Type.Optional(Type.Integer({ description: 'Only on the entry that stands for entries left out of a long history (first 10 and last 39 kept): how many' })),
        }),
        'Status history, at most 50 entries',
      ),
      subject: nullable('string', 'Subject as sent'),
      body: nullable('string', 'Body as sent'),
      sent_copy: sentCopy,
      attachments: list(answer({ name: text('File name'), mime: text('MIME type'), size: count('Bytes'), sha256: nullable('string', 'SHA-256 of the bytes (hex), taken when the call was decoded; null for files stored before Salvo kept it') }), "The launch's attachments"),
      content: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true, description: "The launch's content" }),
      custom_data: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true, description: 'custom_data of the item, else of the launch' }),
      overrides: Type.Unsafe<Record<string, unknown> | null>({ type: ['object', 'null'], additionalProperties: true, description: 'v1.0 field values used for this message only' }),
    }),
    errors: [404],
    handler: async (body) => ({ data: await messageDetail(store, body.id) }),
  });

  method(app, '/messages/retry', 'messages', {
    summary: 'Re-drive failed messages: queue them again with a full set of attempts',
    description:
      'Failed messages named by ids, or those of a launch or a campaign (several narrow each other), are queued again at once: ' +
      'attempts start again from 0, last_error is kept and the history records the re-drive. Sent, queued, waiting, sending and skipped ' +
      `messages are never touched. At most limit (${REDRIVE_LIMIT}) per call; data.more is true when more failed messages are left.`,
    body: object({
      ids: Type.Array(bigId('Message id'), { maxItems: REDRIVE_LIMIT, description: 'Message ids', minItems: 1 }),
      launch_id: bigId('Launch id'),
      campaign_id: id('Campaign id'),
      status: oneOf(['failed'], 'Which messages to re-drive: only failed ones can be'),
      limit: int(`At most this many (default and maximum ${REDRIVE_LIMIT})`, 1, REDRIVE_LIMIT),
    }),
    data: answer({ queued: count('Messages queued again'), more: Type.Boolean({ description: 'More failed messages are left: call again' }) }),
    handler: async (body, req) => {
      const filter = { ids: body.ids, launch_id: body.launch_id, campaign_id: body.campaign_id === undefined ? undefined : toId(body.campaign_id, 'campaign_id') };
      return { data: await redriveFailed({ store, wake }, filter, body.limit ?? REDRIVE_LIMIT, req.tokenName) };
    },
  });

  method(app, '/messages/cancel', 'messages', {
    summary: 'Cancel messages not yet sent: those queued or waiting for a retry end failed ("cancelled by messages/cancel")',
    description: 'A message being sent or already done is left as it is and not counted; data.ids names those cancelled.',
    body: object({ ids: Type.Array(bigId('Message id'), { maxItems: 1000, minItems: 1, description: 'Message ids' }) }, ['ids']),
    data: answer({ cancelled: count('Messages cancelled'), ids: list(count('Message id'), 'The messages cancelled') }),
    handler: async (body, req) => ({ data: await cancelQueued(store, body.ids, req.tokenName) }),
  });

  method(app, '/outbox/list', 'outbox', {
    summary: 'Messages captured in the outbox (email without SALVO_SMTP_URL, SMS, push), newest first',
    description: 'The filters narrow each other; a key that is no filter is refused (400), never ignored.',
    body: filters({
      recipient: str('Email address, phone or push subscription id', 4096),
      channel: oneOf(['email', 'sms', 'push']),
      message_id: bigId('Message id'),
      cursor,
      limit,
    }),
    data: list(answer(outboxProperties), 'Captured messages'),
    extra: pageExtra,
    handler: async (body) => {
      const page = await listOutbox(store, body, body.cursor ?? null, body.limit ?? 100);
      return { data: page.rows.map(outboxView), extra: nextCursor(page.nextCursor) };
    },
  });

  method(app, '/outbox/get', 'outbox', {
    summary: 'One captured message, with the MIME text of an email (raw)',
    body: object({ id: bigId('Outbox entry id') }, ['id']),
    data: answer({ ...outboxProperties, raw: nullable('string', 'The MIME text of an email') }),
    errors: [404],
    handler: async (body) => ({ data: await outboxDetail(store, body.id) }),
  });
};
