-- The message ledger: one row per business key, so that a message is
-- submitted once across retries and crashes. IF NOT EXISTS: databases
-- created before the version table already have it.
CREATE TABLE IF NOT EXISTS ponte_appio_ledger (
	business_key TEXT PRIMARY KEY,
	state TEXT NOT NULL,
	message_id TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	updated_at TEXT NOT NULL);
