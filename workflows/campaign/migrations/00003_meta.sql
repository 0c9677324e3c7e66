-- What the store remembers about a campaign beyond its items (cancel and
-- reconciliation), and the index reconciliation matches receipts by.
CREATE TABLE IF NOT EXISTS campaign_meta (
	campaign_id TEXT NOT NULL PRIMARY KEY, tenant_id TEXT NOT NULL, source TEXT NOT NULL DEFAULT '',
	subject TEXT NOT NULL DEFAULT '', started_at TEXT NOT NULL DEFAULT '', cancelled_at TEXT NOT NULL DEFAULT '');

CREATE INDEX IF NOT EXISTS campaign_items_iuv ON campaign_items (iuv);
