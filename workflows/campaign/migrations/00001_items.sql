-- Campaign items and rejected source rows, as in the first release (the
-- fallback columns came later: 00002). IF NOT EXISTS: databases created
-- before the version table already have these tables.
CREATE TABLE IF NOT EXISTS campaign_items (
	campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, line INTEGER NOT NULL,
	external_id TEXT NOT NULL DEFAULT '', fiscal_code TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '', surname TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '',
	amount_cents BIGINT NOT NULL, due_date TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
	state TEXT NOT NULL DEFAULT 'staged', iupd TEXT NOT NULL DEFAULT '', iuv TEXT NOT NULL DEFAULT '',
	nav TEXT NOT NULL DEFAULT '', position_error TEXT NOT NULL DEFAULT '',
	io_state TEXT NOT NULL DEFAULT '', io_message_id TEXT NOT NULL DEFAULT '', io_error TEXT NOT NULL DEFAULT '',
	updated_at TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (campaign_id, seq));

CREATE TABLE IF NOT EXISTS campaign_rejects (
	campaign_id TEXT NOT NULL, source TEXT NOT NULL, line INTEGER NOT NULL, field TEXT NOT NULL,
	value TEXT NOT NULL DEFAULT '', rule TEXT NOT NULL DEFAULT '',
	message_it TEXT NOT NULL DEFAULT '', message_en TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (campaign_id, line, field));
