-- Roles on API tokens (admin, editor, viewer, trigger; src/core/roles.ts) and each token's last use.
-- Tokens made before roles could do everything: they stay admin.
ALTER TABLE api_tokens ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
ALTER TABLE api_tokens ADD COLUMN last_used_at INTEGER;
-- messages/list by email or phone: the address, case-folded (email is matched case-insensitively).
CREATE INDEX messages_address ON messages (lower(address), id);
