-- Payment in rate: the installments of an item's debt position, each with
-- its own IUV and notice number.
CREATE TABLE IF NOT EXISTS campaign_installments (
	campaign_id TEXT NOT NULL, seq INTEGER NOT NULL, n INTEGER NOT NULL,
	iuv TEXT NOT NULL, nav TEXT NOT NULL, amount_cents BIGINT NOT NULL, due_date TEXT NOT NULL,
	PRIMARY KEY (campaign_id, seq, n));

CREATE INDEX IF NOT EXISTS campaign_installments_iuv ON campaign_installments (iuv);
