-- `captured`: a message kept in the outbox because no provider is configured for its channel ends
-- captured, not sent (nothing left the server). Messages recorded as sent before this status existed
-- and that have an outbox row were captured: they say so now. Their history entries keep `sent` (the
-- status as it was recorded then); the partial indexes on messages name only pending statuses, so
-- none changes.
UPDATE messages SET status = 'captured'
WHERE status = 'sent' AND EXISTS (SELECT 1 FROM outbox o WHERE o.message_id = messages.id);
