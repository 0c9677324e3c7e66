-- The replay cache and the pending requests are swept of expired rows in
-- bulk, every SQLStore.SweepEvery; these indexes make a sweep read only the
-- rows it deletes instead of the whole table.
CREATE INDEX IF NOT EXISTS spid_seen_expires_at ON spid_seen (expires_at);
CREATE INDEX IF NOT EXISTS spid_pending_expires_at ON spid_pending (expires_at);
