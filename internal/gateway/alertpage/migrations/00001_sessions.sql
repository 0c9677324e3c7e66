-- Sessions of the alert operators' page: the SHA-256 of the opaque cookie
-- value (the value itself is never stored), who logged in, the CSRF token
-- of their forms, and when the session ends.
CREATE TABLE IF NOT EXISTS alertpage_sessions (
	id_hash TEXT NOT NULL PRIMARY KEY, tenant TEXT NOT NULL, fiscal_code TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '', csrf TEXT NOT NULL, expires_at TEXT NOT NULL);
