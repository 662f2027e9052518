-- Attachment bytes stored once per content, in chunks (store/queries/attachment-files.ts). A launch's
-- launch_attachments row names its file by sha256 and size, with empty data; rows written before this keep
-- their bytes in data and have no size. Chunks are written before the launch's transaction, a chunk at a
-- time, so that neither writing nor reading a 9 MB file holds the event loop or the write lock in one
-- piece; the same file sent by many triggers (a policy PDF on every order) is stored once.
CREATE TABLE attachment_files (
  sha256  TEXT PRIMARY KEY,
  size    BIGINT NOT NULL,
  chunks  INTEGER NOT NULL,
  -- ms since the epoch: written, or last named by a launch; a file no launch names is purged a while after it
  used_at BIGINT NOT NULL
);
CREATE TABLE attachment_chunks (
  sha256 TEXT NOT NULL REFERENCES attachment_files (sha256),
  seq    INTEGER NOT NULL,
  data   BYTEA NOT NULL,
  PRIMARY KEY (sha256, seq)
);
CREATE INDEX attachment_files_used ON attachment_files (used_at);
CREATE INDEX launch_attachments_sha256 ON launch_attachments (sha256);
ALTER TABLE launch_attachments ADD COLUMN size BIGINT;
