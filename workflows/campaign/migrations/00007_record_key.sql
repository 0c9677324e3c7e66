-- The record's identity in its source (legacy.Debtor.Key): its external id,
-- its SQL key columns, its identity fields or its position, so that a row of
-- a source without ids can be found in reports. Rejects carry the key their
-- source knows (SQL key columns), if any.
ALTER TABLE campaign_items ADD COLUMN record_key TEXT NOT NULL DEFAULT '';
ALTER TABLE campaign_rejects ADD COLUMN record_key TEXT NOT NULL DEFAULT '';
