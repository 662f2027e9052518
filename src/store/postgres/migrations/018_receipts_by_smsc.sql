-- Delivery receipts are matched by the SMSC that sent them and its message_id: two SMSCs both number
-- their messages from 1, so the id alone can name another SMSC's message. `smsc` is the SMSC as
-- core/sms-receipt.ts smscKey names it (system_id@host:port); null on parts recorded before this,
-- which receipts still match by id alone.
ALTER TABLE sms_parts ADD COLUMN smsc TEXT;
CREATE INDEX sms_parts_smsc ON sms_parts (provider_message_id, smsc);
