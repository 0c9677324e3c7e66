-- Citizen reports as Open311 GeoReport v2 service requests
-- (http://wiki.open311.org/GeoReport_v2): id is the service_request_id,
-- token the value GET tokens/{token} answers for; status is the spec's
-- open/closed, state Ponte's detailed lifecycle state. Datetimes are UTC
-- text of a fixed width (so text order is time order); attributes is the
-- JSON of attribute[code] values; reporter_fc is the fiscal code of a
-- citizen logged in with SPID, empty for an anonymous report.
CREATE TABLE IF NOT EXISTS reports_requests (
	id TEXT NOT NULL PRIMARY KEY, token TEXT NOT NULL UNIQUE, tenant TEXT NOT NULL, client TEXT NOT NULL DEFAULT '',
	service_code TEXT NOT NULL, service_name TEXT NOT NULL DEFAULT '',
	status TEXT NOT NULL, state TEXT NOT NULL, status_notes TEXT NOT NULL DEFAULT '',
	agency_responsible TEXT NOT NULL DEFAULT '', service_notice TEXT NOT NULL DEFAULT '',
	requested_at TEXT NOT NULL, updated_at TEXT NOT NULL, expected_at TEXT NOT NULL DEFAULT '',
	address TEXT NOT NULL DEFAULT '', address_id TEXT NOT NULL DEFAULT '', zipcode TEXT NOT NULL DEFAULT '',
	has_location INTEGER NOT NULL DEFAULT 0, lat DOUBLE PRECISION NOT NULL DEFAULT 0, lon DOUBLE PRECISION NOT NULL DEFAULT 0,
	description TEXT NOT NULL DEFAULT '', media_url TEXT NOT NULL DEFAULT '', media_id TEXT NOT NULL DEFAULT '',
	reporter_fc TEXT NOT NULL DEFAULT '', first_name TEXT NOT NULL DEFAULT '', last_name TEXT NOT NULL DEFAULT '',
	email TEXT NOT NULL DEFAULT '', phone TEXT NOT NULL DEFAULT '', device_id TEXT NOT NULL DEFAULT '', account_id TEXT NOT NULL DEFAULT '',
	attributes TEXT NOT NULL DEFAULT '{}');
CREATE INDEX IF NOT EXISTS reports_requests_tenant_requested ON reports_requests (tenant, requested_at);
