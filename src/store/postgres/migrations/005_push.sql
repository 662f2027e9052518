-- Browser push subscriptions carry their keys (Web Push, RFC 8291): {"p256dh": "...", "auth": "..."} as
-- unpadded base64url JSON text; null for every other subscription.

ALTER TABLE subscriptions ADD COLUMN push_keys TEXT;
