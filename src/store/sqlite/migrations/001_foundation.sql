-- Profile databases, resources, profiles and their subscriptions, templates, trigger campaigns, tokens.
-- Times are milliseconds since the epoch; JSON is kept as text.

CREATE TABLE databases (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  fields     TEXT NOT NULL,            -- [{name, type, indexed}]
  created_at INTEGER NOT NULL
);

CREATE TABLE resources (
  id              INTEGER PRIMARY KEY,
  name            TEXT NOT NULL UNIQUE,
  channels        TEXT NOT NULL,       -- ["email", "sms", "push"]
  email           TEXT,                -- {from_email, from_name, replyto_email, replyto_name}
  sms             TEXT,                -- {sender}
  push            TEXT,
  tracking_domain TEXT,
  created_at      INTEGER NOT NULL
);

CREATE TABLE profiles (
  id         TEXT PRIMARY KEY,         -- 24 hex
  db_id      INTEGER NOT NULL REFERENCES databases (id),
  email      TEXT,                     -- trimmed, lowercased
  phones     TEXT NOT NULL,            -- ["+79000000000"]
  status     TEXT NOT NULL,
  md5        TEXT,
  xxh        TEXT,
  data       TEXT NOT NULL,            -- system fields but email and phones, and custom fields
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE INDEX profiles_email ON profiles (db_id, email);
CREATE INDEX profiles_md5 ON profiles (db_id, md5);
CREATE INDEX profiles_xxh ON profiles (db_id, xxh);

-- Side index for values a profile has several of or that a database marks indexed: each phone, each
-- value (each tag) of an indexed custom field. key is the value as text.
CREATE TABLE profile_keys (
  db_id      INTEGER NOT NULL,
  field      TEXT NOT NULL,
  key        TEXT NOT NULL,
  profile_id TEXT NOT NULL,
  PRIMARY KEY (db_id, field, key, profile_id)
) WITHOUT ROWID;

CREATE TABLE subscriptions (
  id          INTEGER PRIMARY KEY,
  profile_id  TEXT NOT NULL REFERENCES profiles (id),
  db_id       INTEGER NOT NULL,
  resource_id INTEGER NOT NULL REFERENCES resources (id),
  channel     TEXT NOT NULL,
  address     TEXT NOT NULL,           -- email, E.164 phone, or push subscription_id
  provider    TEXT,
  status      TEXT NOT NULL,
  priority    INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  UNIQUE (profile_id, resource_id, channel, address)
);
CREATE INDEX subscriptions_address ON subscriptions (db_id, channel, address);

CREATE TABLE templates (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  channels   TEXT NOT NULL,            -- {email: {...}, sms: {...}, push: {...}}
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

CREATE TABLE campaigns (
  id                    INTEGER PRIMARY KEY,
  name                  TEXT NOT NULL UNIQUE,
  is_active             INTEGER NOT NULL,
  trigger_type          TEXT NOT NULL,
  send_channel          TEXT NOT NULL,
  resource_id           INTEGER NOT NULL REFERENCES resources (id),
  db_id                 INTEGER NOT NULL REFERENCES databases (id),
  content               TEXT NOT NULL, -- [{message_id, subject, from_email, ...}]
  skip_minutes          INTEGER NOT NULL,
  subid                 TEXT,
  unconditional_sending INTEGER NOT NULL,
  attributes            TEXT NOT NULL,
  content_filter        TEXT,
  link_key              TEXT NOT NULL UNIQUE,
  created_at            INTEGER NOT NULL,
  updated_at            INTEGER NOT NULL
);

CREATE TABLE campaign_log (
  id          INTEGER PRIMARY KEY,
  campaign_id INTEGER NOT NULL,
  level       TEXT NOT NULL,
  message     TEXT NOT NULL,
  time        INTEGER NOT NULL
);
CREATE INDEX campaign_log_campaign ON campaign_log (campaign_id, id);

CREATE TABLE api_tokens (
  id         INTEGER PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE,
  hash       TEXT NOT NULL UNIQUE,     -- sha256 of the token
  created_at INTEGER NOT NULL
);
