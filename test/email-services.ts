/**
 * Email services as the tests meet them: Amazon SES notifications (the examples of AWS's "Amazon SNS
 * notification examples for Amazon SES") in SNS envelopes signed as SNS signs them, with a certificate made
 * here by openssl (pinned through SALVO_SES_SIGNING_CERT), and SendGrid's events (its Event Webhook
 * reference's examples) signed with an ECDSA P-256 key made here, as SendGrid signs them.
 */
import { execFileSync } from 'node:child_process';
import { createSign, generateKeyPairSync, sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tempDir } from './helpers.ts';

export const TOPIC = 'arn:aws:sns:us-east-1:123456789012:ses-feedback';

const tmp = tempDir();
const snsKey = path.join(tmp.dir, 'sns-key.pem');
export const snsCert = path.join(tmp.dir, 'sns-cert.pem');
execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', snsKey, '-out', snsCert, '-days', '1', '-subj', '/CN=sns.us-east-1.amazonaws.com'], { stdio: 'ignore' });
const sendgrid = generateKeyPairSync('ec', { namedCurve: 'P-256' });
export const SENDGRID_KEY = sendgrid.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');

/** An SNS envelope around `message`, signed as SNS signs it (SignatureVersion 1: SHA1, 2: SHA256). */
export function snsEnvelope(message: unknown, o: { version?: '1' | '2'; topic?: string; type?: string } = {}) {
  const m: Record<string, string> = {
    Type: o.type ?? 'Notification',
    MessageId: '22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324',
    TopicArn: o.topic ?? TOPIC,
    Message: typeof message === 'string' ? message : JSON.stringify(message),
    Timestamp: '2026-12-07T23:00:00.000Z',
    SignatureVersion: o.version ?? '2',
    SigningCertURL: 'https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem',
    UnsubscribeURL: 'https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe',
  };
  const signed = ['Message', 'MessageId', 'Timestamp', 'TopicArn', 'Type'].map((k) => `${k}\n${m[k]}\n`).join('');
  m.Signature = createSign(m.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1').update(signed).sign(readFileSync(snsKey, 'utf8'), 'base64');
  return m;
}

/** AWS's example notifications, for the message with Message-ID `messageId` sent to `to`. */
export const ses = {
  bounce: (messageId: string, to: string) => ({
    notificationType: 'Bounce',
    bounce: {
      bounceType: 'Permanent',
      reportingMTA: 'dns; email.example.com',
      bouncedRecipients: [{ emailAddress: to, status: '5.1.1', action: 'failed', diagnosticCode: `smtp; 550 5.1.1 <${to}>... User` }],
      bounceSubType: 'General',
      timestamp: '2016-01-27T14:59:38.237Z',
      feedbackId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa068a-000000',
      remoteMtaIp: '127.0.2.0',
    },
    mail: sesMail(messageId, to),
  }),
  complaint: (messageId: string, to: string) => ({
    notificationType: 'Complaint',
    complaint: {
      userAgent: 'AnyCompany Feedback Loop (V0.01)',
      complainedRecipients: [{ emailAddress: to }],
      complaintFeedbackType: 'abuse',
      arrivalDate: '2016-01-27T14:59:38.237Z',
      timestamp: '2016-01-27T14:59:38.237Z',
      feedbackId: '000001378603177f-18c07c78-fa81-4a58-9dd1-fedc3cb8f49a-000000',
    },
    mail: sesMail(messageId, to),
  }),
  delivery: (messageId: string, to: string) => ({
    notificationType: 'Delivery',
    mail: sesMail(messageId, to),
    delivery: {
      timestamp: '2016-01-27T14:59:38.237Z',
      recipients: [to],
      processingTimeMillis: 546,
      reportingMTA: 'a8-70.smtp-out.amazonses.com',
      smtpResponse: '250 ok:  Message 64111812 accepted',
      remoteMtaIp: '127.0.2.0',
    },
  }),
};

function sesMail(messageId: string, to: string) {
  return {
    timestamp: '2016-01-27T14:59:38.237Z',
    source: 'news@shop.example',
    sourceArn: 'arn:aws:ses:us-east-1:888888888888:identity/shop.example',
    sendingAccountId: '123456789012',
    messageId: '00000138111222aa-33322211-cccc-cccc-cccc-ddddaaaa0680-000000',
    destination: [to],
    headersTruncated: false,
    headers: [{ name: 'Message-ID', value: messageId }],
    commonHeaders: { from: ['Shop News <news@shop.example>'], date: 'Wed, 27 Jan 2016 14:05:45 +0000', to: [to], messageId, subject: 'Message sent from Amazon SES' },
  };
}

/** SendGrid's example events (Event Webhook reference), for the message with Message-ID `messageId`. */
export const sendgridEvent = (event: string, messageId: string, to: string, extra: Record<string, unknown> = {}) => ({
  email: to,
  timestamp: 1513299569,
  'smtp-id': messageId,
  event,
  category: 'cat facts',
  sg_event_id: 'sg_event_id',
  sg_message_id: 'sg_message_id',
  ...extra,
});

/** POSTs `events` to a server's /feedback/sendgrid, signed (with `o.key`, another key, or `o.signature` as given). */
export function postSendgrid(url: string, events: unknown[], o: { key?: typeof sendgrid.privateKey; timestamp?: string; signature?: string } = {}) {
  const body = JSON.stringify(events);
  const timestamp = o.timestamp ?? String(Math.floor(Date.now() / 1000));
  const signature = o.signature ?? sign('sha256', Buffer.from(timestamp + body), o.key ?? sendgrid.privateKey).toString('base64');
  return fetch(`${url}/feedback/sendgrid`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp },
    body,
  });
}

/** POSTs an SNS message to a server's /feedback/ses, as SNS does (text/plain). */
export const postSes = (url: string, body: unknown) =>
  fetch(`${url}/feedback/ses`, { method: 'POST', headers: { 'content-type': 'text/plain; charset=UTF-8' }, body: JSON.stringify(body) });
