-- Pending AuthnRequests and the replay cache of assertion ids, shared by the
-- SP instances of a deployment. IF NOT EXISTS: databases created before the
-- version table already have these tables.
CREATE TABLE IF NOT EXISTS spid_pending (id TEXT PRIMARY KEY, data TEXT NOT NULL, expires_at BIGINT NOT NULL);

CREATE TABLE IF NOT EXISTS spid_seen (id TEXT PRIMARY KEY, expires_at BIGINT NOT NULL);
