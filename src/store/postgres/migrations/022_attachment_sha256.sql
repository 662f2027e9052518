-- The SHA-256 (hex) of each attachment's bytes, taken as the request's base64 was decoded
-- (core/attachments.ts), so that messages/get and outbox/attachment show it without reading the bytes
-- again; null for attachments stored before this.
ALTER TABLE launch_attachments ADD COLUMN sha256 TEXT;
