-- Batch launches carry custom_data per item; background tasks; request deduplication.

ALTER TABLE messages ADD COLUMN custom_data TEXT;  -- the item's own custom_data, over the launch's

CREATE TABLE tasks (
  id          INTEGER PRIMARY KEY,
  kind        TEXT NOT NULL,           -- start_batch | import_and_start_batch
  state       TEXT NOT NULL,           -- queued | running | done | failed
  campaign_id INTEGER NOT NULL,
  launch_id   INTEGER NOT NULL REFERENCES launches (id),
  payload     TEXT NOT NULL,           -- the request, without its token
  total       INTEGER NOT NULL,
  processed   INTEGER NOT NULL,        -- items done; also where a resumed task goes on
  sent        INTEGER NOT NULL,
  skipped     INTEGER NOT NULL,
  failed      INTEGER NOT NULL,
  errors      TEXT NOT NULL,           -- [{index, error, error_text}], the first 1000
  lease_until INTEGER,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  finished_at INTEGER
);
CREATE INDEX tasks_pending ON tasks (id) WHERE state IN ('queued', 'running');

-- A request's first answer, kept to answer its repeats. scope is the caller (token name or link).
CREATE TABLE dedup (
  scope       TEXT NOT NULL,
  key         TEXT NOT NULL,
  state       TEXT NOT NULL,           -- pending | done
  status      INTEGER,
  headers     TEXT,
  body        TEXT,
  created_at  INTEGER NOT NULL,
  expires_at  INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX dedup_expires ON dedup (expires_at);
