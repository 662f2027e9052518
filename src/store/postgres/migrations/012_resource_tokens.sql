-- A resource's public token (push_subscribe from browser and app pages authenticates by it). New
-- resources get 24 random bytes in base64url from the application; resources made before this
-- migration get two gen_random_uuid() (pg_strong_random, 244 random bits) as hex. Looked up by the
-- token through the unique index.
ALTER TABLE resources ADD COLUMN resource_token TEXT;
UPDATE resources SET resource_token = replace(gen_random_uuid()::text || gen_random_uuid()::text, '-', '') WHERE resource_token IS NULL;
ALTER TABLE resources ALTER COLUMN resource_token SET NOT NULL;
CREATE UNIQUE INDEX resources_token ON resources (resource_token);
