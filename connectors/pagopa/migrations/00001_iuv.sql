-- The IUV allocator: one counter per (organization, segregation code) and
-- the IUV given to each allocation key. IF NOT EXISTS: databases created
-- before the version table already have these tables.
CREATE TABLE IF NOT EXISTS ponte_iuv_counters (
	org TEXT NOT NULL,
	seg TEXT NOT NULL,
	last_base BIGINT NOT NULL,
	PRIMARY KEY (org, seg));

CREATE TABLE IF NOT EXISTS ponte_iuv_allocations (
	org TEXT NOT NULL,
	alloc_key TEXT NOT NULL,
	iuv TEXT NOT NULL,
	created_at TEXT NOT NULL,
	PRIMARY KEY (org, alloc_key),
	UNIQUE (org, iuv));
