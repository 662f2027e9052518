/**
 * Reports as real systems write them, for the bounce listener's tests: Postfix's delivery status
 * notifications (RFC 3464, its bounce(8) templates: a failed and a delayed recipient), an ARF complaint
 * (RFC 5965, after its appendix B example) and an old-style plain-text bounce. `verp` is the Return-Path
 * the reported mail carried; `to` its recipient.
 */

const POSTFIX_NOTICE = `This is the mail system at host mx.shop.example.

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients. It's attached below.

For further assistance, please send mail to postmaster.

If you do so, please include this problem report. You can
delete your own text from the attached returned message.

                   The mail system`;

const originalHeaders = (verp: string, to: string) => `Return-Path: <${verp}>
Received: from salvo.shop.example (salvo.shop.example [192.0.2.10])
	by mx.shop.example (Postfix) with ESMTPS id 4C1A8123
	for <${to}>; Mon,  7 Dec 2026 22:40:00 +0000 (UTC)
From: Shop News <news@shop.example>
To: ${to}
Subject: New videos on your favorite channels
Message-ID: <salvo.17.3@shop.example>
Date: Mon, 07 Dec 2026 22:40:00 +0000
MIME-Version: 1.0`;

function postfixDsn(verp: string, to: string, recipientBlock: string, subject: string, notice: string): string {
  const b = '4C1A8123.1796676001/mx.shop.example';
  return `Return-Path: <>
Received: by mx.shop.example (Postfix)
	id 4C1A8123; Mon,  7 Dec 2026 22:40:01 +0000 (UTC)
Date: Mon,  7 Dec 2026 22:40:01 +0000 (UTC)
From: MAILER-DAEMON@mx.shop.example (Mail Delivery System)
Subject: ${subject}
To: ${verp}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
	boundary="${b}"
Content-Transfer-Encoding: 8bit
Message-Id: <20261207224001.4C1A8123@mx.shop.example>

This is a MIME-encapsulated message.

--${b}
Content-Description: Notification
Content-Type: text/plain; charset=us-ascii

${notice}

--${b}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.shop.example
X-Postfix-Queue-ID: 4C1A8123
X-Postfix-Sender: rfc822; ${verp}
Arrival-Date: Mon,  7 Dec 2026 22:40:00 +0000 (UTC)

${recipientBlock}

--${b}
Content-Description: Undelivered Message Headers
Content-Type: text/rfc822-headers
Content-Transfer-Encoding: 8bit

${originalHeaders(verp, to)}

--${b}--
`.replace(/\r?\n/g, '\r\n');
}

/** Postfix's bounce of a recipient the remote server does not know: 5.1.1. */
export const hardBounce = (verp: string, to: string) =>
  postfixDsn(
    verp,
    to,
    `Final-Recipient: rfc822; ${to}
Original-Recipient: rfc822;${to}
Action: failed
Status: 5.1.1
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; 550 5.1.1 <${to}>: Recipient address rejected: User
    unknown in virtual mailbox table`,
    'Undelivered Mail Returned to Sender',
    `${POSTFIX_NOTICE}

<${to}>: host mail.example.com[203.0.113.5] said: 550 5.1.1
    <${to}>: Recipient address rejected: User unknown in virtual mailbox
    table (in reply to RCPT TO command)`,
  );

/** Postfix's delay warning for a full mailbox: 4.2.2, still being tried. */
export const softBounce = (verp: string, to: string) =>
  postfixDsn(
    verp,
    to,
    `Final-Recipient: rfc822; ${to}
Original-Recipient: rfc822;${to}
Action: delayed
Status: 4.2.2
Remote-MTA: dns; mail.example.com
Diagnostic-Code: smtp; 452 4.2.2 <${to}>: Mailbox full
Will-Retry-Until: Mon, 14 Dec 2026 22:40:00 +0000 (UTC)`,
    'Delayed Mail (still being retried)',
    `This is the mail system at host mx.shop.example.

####################################################################
# THIS IS A WARNING ONLY.  YOU DO NOT NEED TO RESEND YOUR MESSAGE. #
####################################################################

Your message could not be delivered for more than 4 hour(s).
It will be retried until it is 7 day(s) old.`,
  );

/** An ARF complaint as a mailbox provider's feedback loop sends it (RFC 5965, appendix B), to `rcpt`. */
export const complaint = (verp: string, to: string, rcpt: string) =>
  `From: <abusedesk@mail.example.com>
Date: Mon, 7 Dec 2026 23:00:36 +0000
Subject: FW: New videos on your favorite channels
To: <${rcpt}>
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report;
     boundary="part1_13d.2e68ed54_boundary"

--part1_13d.2e68ed54_boundary
Content-Type: text/plain; charset="US-ASCII"
Content-Transfer-Encoding: 7bit

This is an email abuse report for an email message received from IP
192.0.2.10 on Mon, 7 Dec 2026 22:40:00 +0000.  For more information
about this format please see http://www.mipassoc.org/arf/.

--part1_13d.2e68ed54_boundary
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Mail-From: <${verp}>
Original-Rcpt-To: <${to}>
Arrival-Date: Mon, 7 Dec 2026 22:40:00 +0000
Reporting-MTA: dns; mail.example.com
Source-IP: 192.0.2.10
Authentication-Results: mail.example.com; spf=pass smtp.mail=${verp}

--part1_13d.2e68ed54_boundary
Content-Type: message/rfc822
Content-Disposition: inline

${originalHeaders(verp, to)}
Content-Type: text/plain

Hi, new videos are out!

--part1_13d.2e68ed54_boundary--
`.replace(/\r?\n/g, '\r\n');

/** A bounce in no standard form: qmail's "failure notice". */
export const plainBounce = (verp: string, to: string) =>
  `From: MAILER-DAEMON@old.example.com
To: ${verp}
Subject: failure notice

Hi. This is the qmail-send program at old.example.com.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<${to}>:
203.0.113.9 does not like recipient.
Remote host said: 550 5.1.1 No such user
Giving up on 203.0.113.9.
`.replace(/\r?\n/g, '\r\n');
