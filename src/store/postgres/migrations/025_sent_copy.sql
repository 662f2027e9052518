-- What a sent message carried besides its subject and body (core/sent-copy.ts, JSON): an email's From, To,
-- Reply-To, the headers Salvo set, its text part and its attachments' names. Written with the body, kept
-- and emptied with it (SALVO_KEEP_BODY, SALVO_RETAIN_BODIES, profiles/delete): a row with a copy has a
-- body, so the retention purge finds it through messages_rendered.
ALTER TABLE messages ADD COLUMN sent_copy TEXT;
