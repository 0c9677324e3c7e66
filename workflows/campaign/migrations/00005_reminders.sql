-- Reminders: one row per (item, reminder), written "sending" before the
-- send so that a retried batch never reminds anyone twice. (Until this
-- migration the table was created by the first SendReminders activity.)
CREATE TABLE IF NOT EXISTS campaign_reminders (
	campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL,
	channel TEXT NOT NULL DEFAULT '', state TEXT NOT NULL, message_id TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL,
	PRIMARY KEY (campaign_id, seq, n));
