-- The outbox: one row per message to a person, keyed by business id
-- (scope, item, slot), with the state of its delivery. See outbox.go. The
-- key's order serves the reads: one slot of a scope, over a range of items.

-- +goose Up
CREATE TABLE IF NOT EXISTS outbox (
	scope TEXT NOT NULL,
	item BIGINT NOT NULL,
	slot TEXT NOT NULL,
	channel TEXT NOT NULL DEFAULT '',
	state TEXT NOT NULL,
	message_id TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	attempts INTEGER NOT NULL DEFAULT 0,
	updated_at TEXT NOT NULL,
	PRIMARY KEY (scope, slot, item));
