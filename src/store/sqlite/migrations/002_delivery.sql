-- Launches (one per trigger call), their attachments (kept once per launch), the messages they make,
-- and the outbox where messages are captured when no real transport is configured.

-- custom_request scans read a database's profiles a page at a time, in id order.
CREATE INDEX profiles_scan ON profiles (db_id, id);

CREATE TABLE launches (
  id           INTEGER PRIMARY KEY,
  campaign_id  INTEGER NOT NULL REFERENCES campaigns (id),
  kind         TEXT NOT NULL,          -- start
  state        TEXT NOT NULL,          -- done | expanding | filtered
  content      TEXT,                   -- the request's content (JSON)
  custom_data  TEXT,                   -- the request's custom_data (JSON)
  audience     TEXT,                   -- custom_request being expanded (JSON), with its options
  cursor       TEXT,                   -- how far expansion has come
  lease_until  INTEGER,                -- an expander working on it holds it until then
  total        INTEGER NOT NULL,       -- messages made so far
  created_at   INTEGER NOT NULL,
  updated_at   INTEGER NOT NULL
);
CREATE INDEX launches_expanding ON launches (id) WHERE state = 'expanding';
CREATE INDEX launches_campaign ON launches (campaign_id, id);

CREATE TABLE launch_attachments (
  launch_id INTEGER NOT NULL REFERENCES launches (id),
  idx       INTEGER NOT NULL,
  name      TEXT NOT NULL,
  mime      TEXT NOT NULL,
  data      BLOB NOT NULL,
  PRIMARY KEY (launch_id, idx)
);

CREATE TABLE messages (
  id              INTEGER PRIMARY KEY,
  launch_id       INTEGER NOT NULL REFERENCES launches (id),
  campaign_id     INTEGER NOT NULL,
  profile_id      TEXT NOT NULL,
  subscription_id INTEGER,
  channel         TEXT NOT NULL,
  address         TEXT,
  status          TEXT NOT NULL,       -- queued | waiting | sending | sent | failed | skipped
  skip_reason     TEXT,
  priority        INTEGER NOT NULL,
  attempts        INTEGER NOT NULL,
  next_attempt_at INTEGER NOT NULL,    -- a waiting message becomes queued then
  lease_until     INTEGER,             -- a sending message is retaken after then
  worker          TEXT,
  last_error      TEXT,
  history         TEXT NOT NULL,       -- [{status, time, detail}]
  overrides       TEXT,                -- field values used for this message only (JSON)
  subject         TEXT,                -- as rendered when sent
  body            TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  sent_at         INTEGER,
  UNIQUE (launch_id, profile_id)
);
CREATE INDEX messages_ready ON messages (priority DESC, id) WHERE status = 'queued';
CREATE INDEX messages_waiting ON messages (next_attempt_at) WHERE status = 'waiting';
CREATE INDEX messages_sending ON messages (lease_until) WHERE status = 'sending';
CREATE INDEX messages_campaign ON messages (campaign_id, id);
CREATE INDEX messages_profile ON messages (profile_id, campaign_id, created_at);

CREATE TABLE outbox (
  id          INTEGER PRIMARY KEY,
  message_id  INTEGER NOT NULL,
  channel     TEXT NOT NULL,
  recipient   TEXT NOT NULL,
  sender      TEXT,
  subject     TEXT,
  body        TEXT,                    -- text part, SMS text, or push body
  html        TEXT,
  extra       TEXT NOT NULL,           -- {attachments: [{name, mime, size}], url, icon, ...}
  raw         TEXT,                    -- the email as it would go over SMTP (MIME)
  created_at  INTEGER NOT NULL
);
CREATE INDEX outbox_recipient ON outbox (recipient, id);
