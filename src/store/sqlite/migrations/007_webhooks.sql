-- Webhook endpoints and their deliveries. A delivery row (one per event per matching endpoint) is
-- written in the same transaction as the state change it reports (a transactional outbox), then
-- posted by the workers under a lease, like messages.

CREATE TABLE webhooks (
  id              INTEGER PRIMARY KEY,
  url             TEXT NOT NULL,
  events          TEXT NOT NULL,          -- JSON array of event types, e.g. ["message.sent","launch.done"] or ["*"]
  campaign_ids    TEXT,                   -- JSON array of campaign ids; NULL for every campaign
  secret          TEXT NOT NULL,          -- whsec_<base64 key>
  disabled_at     INTEGER,                -- set when it kept failing (or by webhooks/update); no events are written for it then
  disabled_reason TEXT,
  failing_since   INTEGER,                -- the first failed attempt since its last success
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
);

CREATE TABLE webhook_events (
  id               INTEGER PRIMARY KEY,
  webhook_id       INTEGER NOT NULL,
  event_id         TEXT NOT NULL,         -- the webhook-id header: the same on every attempt
  type             TEXT NOT NULL,
  launch_id        INTEGER,               -- for holding launch.done until the launch's message events are out
  payload          TEXT NOT NULL,         -- the body, as posted
  status           TEXT NOT NULL,         -- queued | sending | delivered | failed
  attempts         INTEGER NOT NULL,
  history          TEXT NOT NULL,         -- [{time, status_code, error, ms}] one per attempt
  next_attempt_at  INTEGER NOT NULL,
  lease_until      INTEGER,
  worker           TEXT,
  last_status_code INTEGER,
  last_error       TEXT,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL
);
CREATE INDEX webhook_events_due ON webhook_events (next_attempt_at) WHERE status = 'queued';
CREATE INDEX webhook_events_sending ON webhook_events (lease_until) WHERE status = 'sending';
CREATE INDEX webhook_events_of ON webhook_events (webhook_id, id);
CREATE INDEX webhook_events_open_launch ON webhook_events (webhook_id, launch_id) WHERE status IN ('queued', 'sending');

-- launch.done is written once, by the UPDATE that sets done_at. Launches from before webhooks count as done.
ALTER TABLE launches ADD COLUMN done_at INTEGER;
UPDATE launches SET done_at = updated_at;
CREATE INDEX launches_open ON launches (id) WHERE done_at IS NULL;
CREATE INDEX messages_open ON messages (launch_id) WHERE status IN ('queued', 'waiting', 'sending');
