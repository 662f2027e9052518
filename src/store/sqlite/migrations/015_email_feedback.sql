-- What Salvo learns of an email after the SMTP 250: bounces (delivery status notifications to its
-- Return-Path, email services' events), complaints (ARF reports, services' events) and deliveries
-- (services' events). One row each: repeats are recognised by it, and the soft bounces of a
-- subscription within a window are counted from it (core/feedback.ts).
CREATE TABLE email_feedback (
  id               INTEGER PRIMARY KEY,
  message_id       INTEGER NOT NULL,
  subscription_id  INTEGER,
  kind             TEXT NOT NULL,
  status_code      TEXT,
  detail           TEXT,
  source           TEXT NOT NULL,
  created_at       INTEGER NOT NULL
);
CREATE INDEX email_feedback_message ON email_feedback (message_id);
CREATE INDEX email_feedback_subscription ON email_feedback (subscription_id, created_at);
