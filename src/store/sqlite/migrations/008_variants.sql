-- A/B content: the variant each message gets (its index in the campaign's content) and that
-- variant's template, chosen when the message is made; null for messages made before this.
ALTER TABLE messages ADD COLUMN variant INTEGER;
ALTER TABLE messages ADD COLUMN template_id INTEGER;
