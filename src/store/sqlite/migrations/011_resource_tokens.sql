-- A resource's public token (push_subscribe from browser and app pages authenticates by it). New
-- resources get 24 random bytes in base64url from the application; resources made before this
-- migration get 24 bytes from SQLite's randomblob (seeded from the OS), as hex. Looked up by the
-- token through the unique index.
ALTER TABLE resources ADD COLUMN resource_token TEXT;
UPDATE resources SET resource_token = lower(hex(randomblob(24))) WHERE resource_token IS NULL;
CREATE UNIQUE INDEX resources_token ON resources (resource_token);
