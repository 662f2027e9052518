-- The console's overview (messages/stats) counts the messages made in the last day and hour: an index on
-- created_at reads just those, whatever the size of the log.
CREATE INDEX messages_created ON messages (created_at);
