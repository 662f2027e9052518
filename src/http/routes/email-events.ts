/**
 * Email services' event webhooks, outside the API-token scope: the service's signature is the credential
 * (core/email-services.ts). `POST /feedback/ses` takes Amazon SES notifications through SNS from the topics
 * of SALVO_SES_TOPIC_ARNS; `POST /feedback/sendgrid` takes SendGrid's Signed Event Webhook where
 * SALVO_SENDGRID_WEBHOOK_KEY is set. Unconfigured, each answers 404. An unsigned or wrongly signed post is
 * 401 and changes nothing; a post the store cannot take now is 503, so the service retries it.
 */
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify';
import type { FeedbackSettings } from '../../config.ts';
import { ApiError, badRequest, notFound, unauthorized } from '../../core/errors.ts';
import { type ServiceFeedback, type SnsMessage, sendgridFeedback, sesFeedback, snsProblem, verifySendgrid, verifySns } from '../../core/email-services.ts';
import type { FeedbackResult } from '../../core/feedback.ts';
import type { RecordFeedback } from '../../engine/feedback.ts';
import { SUCCESS } from '../envelope.ts';

/** SNS signing certificates by URL (delivery/sns-certificates.ts, handed in by the composition root). */
export interface SigningCertificates {
  get(url: string): Promise<string>;
}

export interface EmailEventDeps {
  settings: FeedbackSettings;
  record: RecordFeedback;
  certificates: SigningCertificates;
  log: FastifyBaseLogger;
}

/** A post of many events (SendGrid batches them) is bounded like any API body. */
const BODY_LIMIT = 1024 * 1024;

/** The envelope of a post taken; a refusal is thrown (the app's error handler answers it, a store outage as 503). */
const taken = (data: unknown) => ({ error: 0, error_text: SUCCESS, data });

const SUBSCRIBE_URL = /^https:\/\/sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\//;

export const emailEventRoutes: FastifyPluginAsync<EmailEventDeps> = async (app, d) => {
  app.removeAllContentTypeParsers();
  // The raw text is what is signed (SendGrid); SNS posts JSON as text/plain.
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body));

  /** Records each feedback; a store outage reaches the error handler (503, so the service posts again). */
  const recordAll = async (items: ServiceFeedback[], ignored: number) => {
    const counts: Record<FeedbackResult, number> = { recorded: 0, repeated: 0, no_message: 0, not_email: 0 };
    for (const { messageId, feedback } of items) counts[await d.record(messageId, feedback)]++;
    return taken({ ...counts, ignored });
  };

  app.post('/feedback/ses', { schema: { hide: true } }, async (req) => {
    if (d.settings.sesTopicArns.length === 0) throw notFound('Amazon SES events are not set up here (SALVO_SES_TOPIC_ARNS)');
    let m: SnsMessage;
    try {
      m = JSON.parse(String(req.body));
    } catch {
      throw badRequest('The body is not JSON: an SNS message is expected');
    }
    const problem = snsProblem(m);
    if (problem) throw badRequest(`Not an SNS message: ${problem}`);
    if (!d.settings.sesTopicArns.includes(m.TopicArn)) throw unauthorized(`Topic ${m.TopicArn} is not one of SALVO_SES_TOPIC_ARNS`);
    let cert: string;
    try {
      cert = await d.certificates.get(m.SigningCertURL);
    } catch (e) {
      if ((e as { forged?: boolean }).forged) throw unauthorized((e as Error).message);
      d.log.warn({ err: e }, 'SES feedback: the SNS signing certificate could not be fetched');
      throw new ApiError(503, 'The SNS signing certificate could not be fetched; post again later');
    }
    if (!verifySns(m, cert)) throw unauthorized('The SNS signature does not verify');
    if (m.Type === 'SubscriptionConfirmation') {
      const url = m.SubscribeURL ?? '';
      if (SUBSCRIBE_URL.test(url)) {
        // Confirming is a GET of the URL SNS signed; a failure leaves the subscription pending, as SNS shows.
        void fetch(url, { signal: AbortSignal.timeout(10_000), redirect: 'error' }).then(
          (r) => d.log.info({ topic: m.TopicArn, status: r.status }, 'SES feedback: SNS subscription confirmed'),
          (err) => d.log.warn({ err, topic: m.TopicArn }, 'SES feedback: confirming the SNS subscription failed; confirm it in the AWS console'),
        );
      }
      return taken({ confirming: SUBSCRIBE_URL.test(url) });
    }
    if (m.Type !== 'Notification') return taken({ ignored: 1 });
    let notification: unknown;
    try {
      notification = JSON.parse(m.Message);
    } catch {
      throw badRequest('The SNS Message is not an SES notification (not JSON)');
    }
    const item = sesFeedback(notification);
    return recordAll(item ? [item] : [], item ? 0 : 1);
  });

  app.post('/feedback/sendgrid', { schema: { hide: true } }, async (req) => {
    const key = d.settings.sendgridKey;
    if (!key) throw notFound('SendGrid events are not set up here (SALVO_SENDGRID_WEBHOOK_KEY)');
    const signature = req.headers['x-twilio-email-event-webhook-signature'];
    const timestamp = req.headers['x-twilio-email-event-webhook-timestamp'];
    const body = String(req.body ?? '');
    if (typeof signature !== 'string' || typeof timestamp !== 'string' || !verifySendgrid(key, body, signature, timestamp)) {
      throw unauthorized('The SendGrid signature is missing or does not verify (X-Twilio-Email-Event-Webhook-Signature)');
    }
    let events: unknown;
    try {
      events = JSON.parse(body);
    } catch {
      throw badRequest('The body is not JSON');
    }
    const list = Array.isArray(events) ? events : [events];
    const items = list.map(sendgridFeedback).filter((f): f is ServiceFeedback => f !== null);
    return recordAll(items, list.length - items.length);
  });
};
