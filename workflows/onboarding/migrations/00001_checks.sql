-- One row per check of one run of a comune's onboarding checks.
CREATE TABLE onboarding_checks (
	tenant TEXT NOT NULL, run_at TEXT NOT NULL, check_id TEXT NOT NULL,
	status TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (tenant, run_at, check_id));

CREATE INDEX onboarding_checks_run ON onboarding_checks (run_at);
