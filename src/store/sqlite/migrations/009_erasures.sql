-- profiles/delete (a GDPR erasure): which profile was erased, from which database, by which API
-- token and when. Nothing else: the record must not keep what the erasure removed.
CREATE TABLE erasures (
  id          INTEGER PRIMARY KEY,
  profile_id  TEXT NOT NULL,
  db_id       INTEGER NOT NULL,
  token_name  TEXT NOT NULL,
  created_at  INTEGER NOT NULL
);
CREATE INDEX erasures_db ON erasures (db_id, id);
-- An erasure deletes the outbox copies of a profile's messages by message id (outbox/list filters by it too).
CREATE INDEX outbox_message ON outbox (message_id);
