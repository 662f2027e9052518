-- SMS providers: the provider's id for a message, and one row per SMS part so that delivery receipts
-- (matched by the SMSC's message_id) find their message and a multi-part SMS is delivered when all
-- its parts are.

ALTER TABLE messages ADD COLUMN provider_message_id TEXT;  -- the first part's id; shown by messages/get
CREATE INDEX messages_provider_id ON messages (provider_message_id) WHERE provider_message_id IS NOT NULL;

CREATE TABLE sms_parts (
  provider_message_id TEXT NOT NULL,     -- the SMSC's message_id from submit_sm_resp
  message_id          BIGINT NOT NULL,
  part                INTEGER NOT NULL,  -- 1-based
  parts               INTEGER NOT NULL,
  state               TEXT,              -- the receipt's stat (DELIVRD, UNDELIV, ...); null until one comes
  PRIMARY KEY (provider_message_id, message_id)
);
CREATE INDEX sms_parts_message ON sms_parts (message_id);
