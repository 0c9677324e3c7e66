-- The messages of campaign items move to the outbox (component "outbox",
-- migrated before this one by NewStore): the App IO message (slot io), the
-- fallback (slot fallback, "email_sent" becoming "sent" and "no_email"
-- "no_address") and every reminder (slot reminder-N). The old columns of
-- campaign_items stay, unused, so that nothing is lost; campaign_reminders
-- is dropped once copied.

-- +goose Up
INSERT INTO outbox (scope, item, slot, channel, state, message_id, error, attempts, updated_at)
SELECT 'campaign:' || campaign_id, seq, 'io', 'appio', io_state, io_message_id, io_error,
	CASE WHEN io_state IN ('sent', 'failed', 'unknown', 'sending', 'retry') THEN 1 ELSE 0 END, updated_at
FROM campaign_items WHERE io_state <> ''
ON CONFLICT DO NOTHING;

INSERT INTO outbox (scope, item, slot, channel, state, message_id, error, attempts, updated_at)
SELECT 'campaign:' || campaign_id, seq, 'fallback',
	CASE WHEN fallback_state IN ('no_email', 'no_channel') THEN '' ELSE 'email' END,
	CASE fallback_state WHEN 'email_sent' THEN 'sent' WHEN 'no_email' THEN 'no_address' ELSE fallback_state END,
	'', fallback_error,
	CASE WHEN fallback_state IN ('email_sent', 'failed', 'unknown', 'sending', 'retry') THEN 1 ELSE 0 END, updated_at
FROM campaign_items WHERE fallback_state <> ''
ON CONFLICT DO NOTHING;

INSERT INTO outbox (scope, item, slot, channel, state, message_id, error, attempts, updated_at)
SELECT 'campaign:' || campaign_id, seq, 'reminder-' || CAST(n AS TEXT),
	CASE channel WHEN 'io' THEN 'appio' ELSE channel END, state, message_id, error,
	CASE WHEN state IN ('sent', 'failed', 'unknown', 'sending') THEN 1 ELSE 0 END, updated_at
FROM campaign_reminders WHERE true -- (SQLite needs a WHERE before ON CONFLICT here)
ON CONFLICT DO NOTHING;

DROP TABLE campaign_reminders;
