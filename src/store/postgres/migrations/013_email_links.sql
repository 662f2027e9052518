-- Public links (unsubscribe, open pixel, click redirects) are signed with a key made once per store and
-- shared by every process: settings holds it.
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

-- What recipients did with a message: opens and clicks (a person's, and those marked as a machine's),
-- and when it was used to unsubscribe.
ALTER TABLE messages ADD COLUMN opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN machine_opens INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN machine_clicks INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN unsubscribed_at BIGINT;

-- A campaign of mail a person cannot refuse (receipts, password resets) carries no List-Unsubscribe.
ALTER TABLE campaigns ADD COLUMN transactional INTEGER NOT NULL DEFAULT 0;
