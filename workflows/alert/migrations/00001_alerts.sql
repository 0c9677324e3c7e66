-- Alerts (one row per alert, its current version), every CAP message sent
-- for it (the evidence), the recipients staged for it, the CAP feed
-- entries already seen per tenant, and the final report.
CREATE TABLE IF NOT EXISTS alert_alerts (
	id TEXT NOT NULL PRIMARY KEY, tenant TEXT NOT NULL, identifier TEXT NOT NULL,
	version INTEGER NOT NULL, state TEXT NOT NULL, origin TEXT NOT NULL DEFAULT '',
	recipients INTEGER NOT NULL DEFAULT -1,
	report TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL, updated_at TEXT NOT NULL);

CREATE INDEX IF NOT EXISTS alert_alerts_tenant ON alert_alerts (tenant, created_at);

CREATE TABLE IF NOT EXISTS alert_versions (
	alert_id TEXT NOT NULL, version INTEGER NOT NULL, msg_type TEXT NOT NULL,
	identifier TEXT NOT NULL, cap TEXT NOT NULL, created_at TEXT NOT NULL,
	PRIMARY KEY (alert_id, version));

CREATE TABLE IF NOT EXISTS alert_recipients (
	alert_id TEXT NOT NULL, seq INTEGER NOT NULL, person_key TEXT NOT NULL,
	sources TEXT NOT NULL DEFAULT '', fiscal_code TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT '',
	lang TEXT NOT NULL DEFAULT '', channels TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (alert_id, seq));

CREATE TABLE IF NOT EXISTS alert_feed_seen (
	tenant TEXT NOT NULL, entry TEXT NOT NULL, alert_id TEXT NOT NULL DEFAULT '',
	seen_at TEXT NOT NULL,
	PRIMARY KEY (tenant, entry));
