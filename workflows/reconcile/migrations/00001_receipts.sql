-- Receipts, the payments of campaign items and anomalies. IF NOT EXISTS:
-- databases created before the version table already have these tables.
CREATE TABLE IF NOT EXISTS payment_receipts (
	org TEXT NOT NULL, receipt_id TEXT NOT NULL, iuv TEXT NOT NULL, nav TEXT NOT NULL DEFAULT '',
	source TEXT NOT NULL, outcome TEXT NOT NULL, amount_cents BIGINT NOT NULL, payment_date TEXT NOT NULL,
	debtor_fc TEXT NOT NULL DEFAULT '', payer_fc TEXT NOT NULL DEFAULT '', psp TEXT NOT NULL DEFAULT '',
	received_at TEXT NOT NULL, match_state TEXT NOT NULL DEFAULT '', campaign_id TEXT NOT NULL DEFAULT '',
	seq INTEGER NOT NULL DEFAULT -1, matched_on TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (org, receipt_id));

CREATE INDEX IF NOT EXISTS payment_receipts_match ON payment_receipts (org, match_state);

CREATE INDEX IF NOT EXISTS payment_receipts_item ON payment_receipts (campaign_id, seq);

CREATE TABLE IF NOT EXISTS campaign_payments (
	campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, paid_cents BIGINT NOT NULL,
	paid_date TEXT NOT NULL DEFAULT '', receipt_ids TEXT NOT NULL DEFAULT '', updated_on TEXT NOT NULL DEFAULT '',
	wb_state TEXT NOT NULL DEFAULT '', wb_error TEXT NOT NULL DEFAULT '', wb_on TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (campaign_id, seq));

CREATE TABLE IF NOT EXISTS reconcile_anomalies (
	org TEXT NOT NULL, kind TEXT NOT NULL, receipt_id TEXT NOT NULL, iuv TEXT NOT NULL,
	campaign_id TEXT NOT NULL DEFAULT '', seq INTEGER NOT NULL DEFAULT -1,
	expected_cents BIGINT NOT NULL DEFAULT 0, paid_cents BIGINT NOT NULL DEFAULT 0,
	detail_it TEXT NOT NULL DEFAULT '', detail_en TEXT NOT NULL DEFAULT '', found_on TEXT NOT NULL,
	PRIMARY KEY (org, kind, receipt_id));
