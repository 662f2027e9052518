-- Altcraft's subscription object beside the address: the messenger channels' cc_data ({"id": chat} for
-- telegram_bot, {"phone": ...} for whatsapp, viber, notify), custom_fields and cats, as JSON text
-- {cc_data?, custom_fields?, cats?}; null when a subscription has none.

ALTER TABLE subscriptions ADD COLUMN extra TEXT;
