-- Only items with an IUV in the index by IUV (what reconciliation matches
-- receipts by): items without one (all of a campaign's items while it is
-- staged) have iuv = '', all under one key of the full index that no query
-- looks up. Staging a campaign then writes nothing to it, and it stays the
-- size of the items with a debt position. Queries must say iuv <> ''
-- themselves for the planners to use it.
DROP INDEX IF EXISTS campaign_items_iuv;
CREATE INDEX IF NOT EXISTS campaign_items_iuv ON campaign_items (iuv) WHERE iuv <> '';
