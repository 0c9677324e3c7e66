// Package reports keeps citizen reports (segnalazioni) taken through the
// Open311 GeoReport v2 intake (internal/gateway/open311): the store of
// service requests and their photos, and the small API the lifecycle
// workflow moves them with (SetState, SetExpected).
package reports

import (
	"context"
	"crypto/rand"
	"database/sql"
	"embed"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the state-store component of reports. Version 2, the
// photos, is in Go: the dialects name a byte column differently.
var Migrations = store.Register(store.Component{Name: "reports", FS: migrationsFS, Dir: "migrations",
	Go: []store.GoMigration{{Version: 2, Name: "media", Up: func(ctx context.Context, tx *sql.Tx, dialect string) error {
		blob := "BLOB"
		if dialect == store.Postgres {
			blob = "BYTEA"
		}
		_, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS reports_media (id TEXT NOT NULL PRIMARY KEY, request_id TEXT NOT NULL,
			tenant TEXT NOT NULL, content_type TEXT NOT NULL, width INTEGER NOT NULL, height INTEGER NOT NULL, data `+blob+` NOT NULL)`)
		return err
	}}}})

// State is a report's place in its lifecycle, finer than Open311's
// open/closed.
type State string

// Lifecycle states. Resolved, rejected and duplicate are closed in
// Open311's terms; the others are open.
const (
	StateReceived  State = "received"
	StateForwarded State = "forwarded" // sent to the comune's CRM
	StateInCharge  State = "in_charge" // taken in charge by an office
	StateResolved  State = "resolved"
	StateRejected  State = "rejected"
	StateDuplicate State = "duplicate" // merged into another report
)

// States lists every state in lifecycle order.
var States = []State{StateReceived, StateForwarded, StateInCharge, StateResolved, StateRejected, StateDuplicate}

// Valid says whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Status is the Open311 status of the state: "open" or "closed".
func (s State) Status() string {
	switch s {
	case StateResolved, StateRejected, StateDuplicate:
		return "closed"
	}
	return "open"
}

// Report is one service request.
type Report struct {
	ID     string // Open311 service_request_id
	Token  string // for GET tokens/{token}
	Tenant string
	Client string // the client app that filed it (its api_key's name)

	ServiceCode, ServiceName string
	State                    State
	StatusNotes              string
	AgencyResponsible        string
	ServiceNotice            string
	Requested, Updated       time.Time
	Expected                 time.Time // zero: not known

	Address, AddressID, Zipcode string
	HasLocation                 bool
	Lat, Long                   float64
	Description                 string
	MediaURL                    string
	MediaID                     string // a photo kept here (Media), or ""

	Reporter   Reporter
	Attributes map[string][]string // attribute[code] values
}

// Status is the Open311 status: open or closed.
func (r *Report) Status() string { return r.State.Status() }

// Reporter is who filed a report: a citizen logged in with SPID (FiscalCode
// set) or someone anonymous with the contact they left.
type Reporter struct {
	FiscalCode          string
	FirstName, LastName string
	Email, Phone        string
	DeviceID, AccountID string
}

// Media is a photo of a report, already stripped of its metadata.
type Media struct {
	ID            string
	ContentType   string // image/jpeg or image/png
	Width, Height int
	Data          []byte
}

// ErrNotFound is returned for a report, token or photo the store does not
// know.
var ErrNotFound = errors.New("no such report")

// Store keeps reports in the state store.
type Store struct {
	db  *store.DB
	now func() time.Time
}

// NewStore migrates the reports component of db and returns its store.
func NewStore(ctx context.Context, db *store.DB) (*Store, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("reports store in %s: %w", db.Where, err)
	}
	return &Store{db: db, now: time.Now}, nil
}

// NewID returns a random identifier of n bytes of entropy, lower-case
// base32: service request ids, tokens and photo ids.
func NewID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// timeFormat is fixed-width so that text order is time order.
const timeFormat = "2006-01-02T15:04:05.000000Z"

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(timeFormat)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeFormat, s)
}

// Create stores r and its photo (m may be nil) in one transaction: a report
// is stored whole or not at all. Empty ID and Token are generated, State
// defaults to received and Requested/Updated to now; r is updated.
func (s *Store) Create(ctx context.Context, r *Report, m *Media) error {
	if r.Tenant == "" || r.ServiceCode == "" {
		return errors.New("reports: a report needs a tenant and a service code")
	}
	if r.ID == "" {
		r.ID = NewID(10)
	}
	if r.Token == "" {
		r.Token = NewID(20)
	}
	if r.State == "" {
		r.State = StateReceived
	}
	if !r.State.Valid() {
		return fmt.Errorf("reports: unknown state %q", r.State)
	}
	if r.Requested.IsZero() {
		r.Requested = s.now()
	}
	r.Requested = r.Requested.UTC().Truncate(time.Microsecond)
	if r.Updated.IsZero() {
		r.Updated = r.Requested
	}
	attrs, err := json.Marshal(r.Attributes)
	if err != nil {
		return fmt.Errorf("reports: attributes: %w", err)
	}
	if r.Attributes == nil {
		attrs = []byte("{}")
	}
	if m != nil {
		if m.ID == "" {
			m.ID = NewID(15)
		}
		r.MediaID = m.ID
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("reports: %w", err)
	}
	defer func() { _ = tx.Rollback() }() // after Commit, a no-op
	p := r.Reporter
	_, err = tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO reports_requests (id, token, tenant, client, service_code, service_name,
		status, state, status_notes, agency_responsible, service_notice, requested_at, updated_at, expected_at,
		address, address_id, zipcode, has_location, lat, lon, description, media_url, media_id,
		reporter_fc, first_name, last_name, email, phone, device_id, account_id, attributes)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		r.ID, r.Token, r.Tenant, r.Client, r.ServiceCode, r.ServiceName,
		r.Status(), string(r.State), r.StatusNotes, r.AgencyResponsible, r.ServiceNotice, fmtTime(r.Requested), fmtTime(r.Updated), fmtTime(r.Expected),
		r.Address, r.AddressID, r.Zipcode, boolInt(r.HasLocation), r.Lat, r.Long, r.Description, r.MediaURL, r.MediaID,
		p.FiscalCode, p.FirstName, p.LastName, p.Email, p.Phone, p.DeviceID, p.AccountID, string(attrs))
	if err != nil {
		return fmt.Errorf("reports: storing %s: %w", r.ID, err)
	}
	if m != nil {
		if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO reports_media (id, request_id, tenant, content_type, width, height, data)
			VALUES (?, ?, ?, ?, ?, ?, ?)`), m.ID, r.ID, r.Tenant, m.ContentType, m.Width, m.Height, m.Data); err != nil {
			return fmt.Errorf("reports: storing the photo of %s: %w", r.ID, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("reports: storing %s: %w", r.ID, err)
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

const columns = `id, token, tenant, client, service_code, service_name, state, status_notes, agency_responsible, service_notice,
	requested_at, updated_at, expected_at, address, address_id, zipcode, has_location, lat, lon, description, media_url, media_id,
	reporter_fc, first_name, last_name, email, phone, device_id, account_id, attributes`

type scanner interface{ Scan(dest ...any) error }

func scanReport(sc scanner) (*Report, error) {
	var r Report
	var state, req, upd, exp, attrs string
	var hasLoc int
	p := &r.Reporter
	if err := sc.Scan(&r.ID, &r.Token, &r.Tenant, &r.Client, &r.ServiceCode, &r.ServiceName, &state, &r.StatusNotes, &r.AgencyResponsible,
		&r.ServiceNotice, &req, &upd, &exp, &r.Address, &r.AddressID, &r.Zipcode, &hasLoc, &r.Lat, &r.Long, &r.Description, &r.MediaURL, &r.MediaID,
		&p.FiscalCode, &p.FirstName, &p.LastName, &p.Email, &p.Phone, &p.DeviceID, &p.AccountID, &attrs); err != nil {
		return nil, err
	}
	r.State, r.HasLocation = State(state), hasLoc != 0
	var err error
	if r.Requested, err = parseTime(req); err != nil {
		return nil, fmt.Errorf("reports: %s: requested_at: %w", r.ID, err)
	}
	if r.Updated, err = parseTime(upd); err != nil {
		return nil, fmt.Errorf("reports: %s: updated_at: %w", r.ID, err)
	}
	if r.Expected, err = parseTime(exp); err != nil {
		return nil, fmt.Errorf("reports: %s: expected_at: %w", r.ID, err)
	}
	if err := json.Unmarshal([]byte(attrs), &r.Attributes); err != nil {
		return nil, fmt.Errorf("reports: %s: attributes: %w", r.ID, err)
	}
	return &r, nil
}

// Get returns report id.
func (s *Store) Get(ctx context.Context, id string) (*Report, error) {
	r, err := scanReport(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+columns+` FROM reports_requests WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("report %q: %w", id, ErrNotFound)
	}
	return r, err
}

// ByToken returns the report of tenant whose token is token.
func (s *Store) ByToken(ctx context.Context, tenant, token string) (*Report, error) {
	r, err := scanReport(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+columns+` FROM reports_requests WHERE tenant = ? AND token = ?`), tenant, token))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("token: %w", ErrNotFound)
	}
	return r, err
}

// Filter selects reports of one tenant for List; empty fields select all.
type Filter struct {
	Tenant       string
	IDs          []string
	ServiceCodes []string
	Statuses     []string // open, closed
	States       []State
	// From and To bound Requested (inclusive); zero: unbounded.
	From, To time.Time
	Limit    int // default and at most 1000
}

// List returns the reports matching f, newest first.
func (s *Store) List(ctx context.Context, f Filter) ([]*Report, error) {
	q := `SELECT ` + columns + ` FROM reports_requests WHERE tenant = ?`
	args := []any{f.Tenant}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		q += " AND " + col + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vals)), ", ") + ")"
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("id", f.IDs)
	in("service_code", f.ServiceCodes)
	in("status", f.Statuses)
	states := make([]string, len(f.States))
	for i, st := range f.States {
		states[i] = string(st)
	}
	in("state", states)
	if !f.From.IsZero() {
		q += " AND requested_at >= ?"
		args = append(args, fmtTime(f.From))
	}
	if !f.To.IsZero() {
		q += " AND requested_at <= ?"
		args = append(args, fmtTime(f.To))
	}
	if f.Limit <= 0 || f.Limit > 1000 {
		f.Limit = 1000
	}
	q += fmt.Sprintf(" ORDER BY requested_at DESC, id LIMIT %d", f.Limit)
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	defer rows.Close()
	var out []*Report
	for rows.Next() {
		r, err := scanReport(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Media returns photo id of tenant.
func (s *Store) Media(ctx context.Context, tenant, id string) (*Media, error) {
	var m Media
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT id, content_type, width, height, data FROM reports_media WHERE tenant = ? AND id = ?`), tenant, id).
		Scan(&m.ID, &m.ContentType, &m.Width, &m.Height, &m.Data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("photo %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	return &m, nil
}

// Count is the number of reports of tenant (all of them with tenant "").
func (s *Store) Count(ctx context.Context, tenant string) (int, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM reports_requests WHERE tenant = ? OR ? = ''`), tenant, tenant).Scan(&n)
	return n, err
}

// SetState moves report id to state with a note the citizen reads (Open311
// status_notes; empty keeps the current one) and updates its Open311 status
// and updated_datetime. It is what the lifecycle workflow calls.
func (s *Store) SetState(ctx context.Context, id string, state State, note string) error {
	if !state.Valid() {
		return fmt.Errorf("reports: unknown state %q", state)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE reports_requests SET state = ?, status = ?,
		status_notes = CASE WHEN ? = '' THEN status_notes ELSE ? END, updated_at = ? WHERE id = ?`),
		string(state), state.Status(), note, note, fmtTime(s.now()), id)
	return changed(res, err, id)
}

// SetExpected sets when report id is expected to be resolved (Open311
// expected_datetime; zero clears it) and who handles it (agency_responsible;
// empty keeps the current one).
func (s *Store) SetExpected(ctx context.Context, id string, expected time.Time, agency string) error {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE reports_requests SET expected_at = ?,
		agency_responsible = CASE WHEN ? = '' THEN agency_responsible ELSE ? END, updated_at = ? WHERE id = ?`),
		fmtTime(expected), agency, agency, fmtTime(s.now()), id)
	return changed(res, err, id)
}

func changed(res sql.Result, err error, id string) error {
	if err != nil {
		return fmt.Errorf("reports: %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("reports: %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("report %q: %w", id, ErrNotFound)
	}
	return nil
}
