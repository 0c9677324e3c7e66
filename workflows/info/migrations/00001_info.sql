-- Information campaigns (one row per campaign, its report), the recipients
-- staged for each, and the consent records kept as evidence (GDPR art. 7):
-- every grant imported from a people source and every withdrawal, with
-- its time and source; a person's consent to a topic is the latest record.
CREATE TABLE IF NOT EXISTS info_campaigns (
	tenant TEXT NOT NULL, id TEXT NOT NULL, topic TEXT NOT NULL,
	state TEXT NOT NULL, definition TEXT NOT NULL,
	recipients INTEGER NOT NULL DEFAULT -1,
	report TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
	PRIMARY KEY (tenant, id));

CREATE TABLE IF NOT EXISTS info_recipients (
	tenant TEXT NOT NULL, campaign TEXT NOT NULL, seq INTEGER NOT NULL,
	subject TEXT NOT NULL, fiscal_code TEXT NOT NULL DEFAULT '',
	name TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT '',
	lang TEXT NOT NULL DEFAULT '', channels TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tenant, campaign, seq));

CREATE TABLE IF NOT EXISTS info_consent (
	id TEXT NOT NULL PRIMARY KEY, tenant TEXT NOT NULL, subject TEXT NOT NULL,
	fiscal_code TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT '', email TEXT NOT NULL DEFAULT '',
	topic TEXT NOT NULL, channel TEXT NOT NULL, status TEXT NOT NULL,
	at TEXT NOT NULL, source TEXT NOT NULL, campaign TEXT NOT NULL DEFAULT '');

CREATE INDEX IF NOT EXISTS info_consent_subject ON info_consent (tenant, topic, subject, at);
