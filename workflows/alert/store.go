package alert

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/store"
)

//go:embed migrations/*.sql
var migrationsFS embed.FS

// Migrations is the state-store component of the alert tables.
var Migrations = store.Register(store.Component{Name: "alert", FS: migrationsFS, Dir: "migrations", After: []string{channels.Migrations}})

// Alert states.
const (
	StateAwaiting  = "awaiting_confirmation"
	StateSending   = "sending"
	StateDone      = "done"
	StateCancelled = "cancelled"
)

// Store keeps what an alert is beyond its workflow: its CAP messages (the
// evidence), its recipients, its report; its messages are in the outbox.
type Store struct {
	db     *store.DB
	outbox *channels.Outbox
}

// NewStore brings the alert tables (and the outbox) up to date.
func NewStore(ctx context.Context, db *store.DB) (*Store, error) {
	ob, err := channels.NewOutbox(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("alert store in %s: %w", db.Where, err)
	}
	return &Store{db: db, outbox: ob}, nil
}

// Outbox is where the alert's messages are sent from.
func (s *Store) Outbox() *channels.Outbox { return s.outbox }

func stamp() string { return time.Now().UTC().Format(time.RFC3339Nano) }

// Record is one alert as stored.
type Record struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Identifier string    `json:"identifier"` // CAP identifier of the first message
	Version    int       `json:"version"`
	State      string    `json:"state"`
	Origin     string    `json:"origin"` // operator, feed:<url>, api
	Recipients int       `json:"recipients"`
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Version is one CAP message of an alert: the first (Alert), an Update or
// the Cancel.
type Version struct {
	Version    int       `json:"version"`
	MsgType    string    `json:"msgType"`
	Identifier string    `json:"identifier"`
	CAP        string    `json:"cap"`
	CreatedAt  time.Time `json:"createdAt"`
}

// Create records a new alert and its first CAP message; creating it again
// (a retried activity) changes nothing.
func (s *Store) Create(ctx context.Context, r Record, capXML string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert store: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	ts := stamp()
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO alert_alerts (id, tenant, identifier, version, state, origin, created_at, updated_at)
		VALUES (?,?,?,1,?,?,?,?) ON CONFLICT (id) DO NOTHING`), r.ID, r.Tenant, r.Identifier, r.State, r.Origin, ts, ts); err != nil {
		return fmt.Errorf("alert store: creating %s: %w", r.ID, err)
	}
	if err := s.addVersion(ctx, tx, r.ID, Version{Version: 1, MsgType: "Alert", Identifier: r.Identifier, CAP: capXML}); err != nil {
		return err
	}
	return tx.Commit()
}

func (s *Store) addVersion(ctx context.Context, tx *sql.Tx, id string, v Version) error {
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`INSERT INTO alert_versions (alert_id, version, msg_type, identifier, cap, created_at)
		VALUES (?,?,?,?,?,?) ON CONFLICT (alert_id, version) DO NOTHING`), id, v.Version, v.MsgType, v.Identifier, v.CAP, stamp()); err != nil {
		return fmt.Errorf("alert store: version %d of %s: %w", v.Version, id, err)
	}
	return nil
}

// AddVersion records an Update or the Cancel of alert id and makes it
// the current version; adding it again changes nothing.
func (s *Store) AddVersion(ctx context.Context, id string, v Version, state string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("alert store: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if err := s.addVersion(ctx, tx, id, v); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE alert_alerts SET version = ?, state = ?, updated_at = ? WHERE id = ? AND version <= ?`),
		v.Version, state, stamp(), id, v.Version); err != nil {
		return fmt.Errorf("alert store: %w", err)
	}
	return tx.Commit()
}

// SetState sets the alert's state.
func (s *Store) SetState(ctx context.Context, id, state string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE alert_alerts SET state = ?, updated_at = ? WHERE id = ?`), state, stamp(), id)
	if err != nil {
		return fmt.Errorf("alert store: %w", err)
	}
	return nil
}

// ErrNotFound is returned for an alert id the store does not know.
var ErrNotFound = errors.New("no such alert")

const recordCols = `id, tenant, identifier, version, state, origin, recipients, created_at, updated_at`

func scanRecord(sc interface{ Scan(...any) error }) (Record, error) {
	var r Record
	var c, u string
	if err := sc.Scan(&r.ID, &r.Tenant, &r.Identifier, &r.Version, &r.State, &r.Origin, &r.Recipients, &c, &u); err != nil {
		return r, err
	}
	r.CreatedAt, _ = time.Parse(time.RFC3339Nano, c) // written by stamp
	r.UpdatedAt, _ = time.Parse(time.RFC3339Nano, u)
	return r, nil
}

// Get returns alert id.
func (s *Store) Get(ctx context.Context, id string) (Record, error) {
	r, err := scanRecord(s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT `+recordCols+` FROM alert_alerts WHERE id = ?`), id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("alert %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("alert store: %w", err)
	}
	return r, nil
}

// List returns the tenant's alerts, newest first (all tenants' for "").
func (s *Store) List(ctx context.Context, tenant string, limit int) ([]Record, error) {
	q, args := `SELECT `+recordCols+` FROM alert_alerts`, []any{}
	if tenant != "" {
		q, args = q+` WHERE tenant = ?`, append(args, tenant)
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q+` ORDER BY created_at DESC LIMIT ?`), append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("alert store: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		r, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("alert store: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Versions returns the alert's CAP messages in order.
func (s *Store) Versions(ctx context.Context, id string) ([]Version, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT version, msg_type, identifier, cap, created_at FROM alert_versions
		WHERE alert_id = ? ORDER BY version`), id)
	if err != nil {
		return nil, fmt.Errorf("alert store: %w", err)
	}
	defer rows.Close()
	var out []Version
	for rows.Next() {
		var v Version
		var at string
		if err := rows.Scan(&v.Version, &v.MsgType, &v.Identifier, &v.CAP, &at); err != nil {
			return nil, fmt.Errorf("alert store: %w", err)
		}
		v.CreatedAt, _ = time.Parse(time.RFC3339Nano, at) // written by stamp
		out = append(out, v)
	}
	return out, rows.Err()
}

// Recipient is one person an alert goes to, merged from the people
// sources.
type Recipient struct {
	Seq        int64    `json:"seq"`
	Key        string   `json:"key"`     // the person's key in the first source that had them
	Sources    string   `json:"sources"` // the sources that had them, comma-separated
	FiscalCode string   `json:"fiscalCode,omitempty"`
	Name       string   `json:"name,omitempty"`
	Email      string   `json:"email,omitempty"`
	Phone      string   `json:"phone,omitempty"`
	Lang       string   `json:"lang,omitempty"`
	Channels   []string `json:"channels,omitempty"` // preferences, in order
}

// Stage stores the alert's recipients (seq from 1) unless they were
// stored already, and returns how many there are.
func (s *Store) Stage(ctx context.Context, id string, rs []Recipient) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("alert store: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT recipients FROM alert_alerts WHERE id = ?`), id).Scan(&n); err != nil {
		return 0, fmt.Errorf("alert store: %s: %w", id, err)
	}
	if n >= 0 {
		return n, nil // staged by an earlier attempt
	}
	rows := make([][]any, len(rs))
	for i, r := range rs {
		rows[i] = []any{id, r.Seq, r.Key, r.Sources, r.FiscalCode, r.Name, r.Email, r.Phone, r.Lang, strings.Join(r.Channels, ",")}
	}
	if err := s.db.InsertRows(ctx, tx, `INSERT INTO alert_recipients (alert_id, seq, person_key, sources, fiscal_code, name, email, phone, lang, channels)`, "", rows); err != nil {
		return 0, fmt.Errorf("alert store: staging %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE alert_alerts SET recipients = ?, updated_at = ? WHERE id = ?`), len(rs), stamp(), id); err != nil {
		return 0, fmt.Errorf("alert store: %w", err)
	}
	return len(rs), tx.Commit()
}

// Recipients returns the recipients with seq in [from, to), in order.
func (s *Store) Recipients(ctx context.Context, id string, from, to int64) ([]Recipient, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, person_key, sources, fiscal_code, name, email, phone, lang, channels
		FROM alert_recipients WHERE alert_id = ? AND seq >= ? AND seq < ? ORDER BY seq`), id, from, to)
	if err != nil {
		return nil, fmt.Errorf("alert store: %w", err)
	}
	defer rows.Close()
	var out []Recipient
	for rows.Next() {
		var r Recipient
		var chans string
		if err := rows.Scan(&r.Seq, &r.Key, &r.Sources, &r.FiscalCode, &r.Name, &r.Email, &r.Phone, &r.Lang, &chans); err != nil {
			return nil, fmt.Errorf("alert store: %w", err)
		}
		if chans != "" {
			r.Channels = strings.Split(chans, ",")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveReport keeps the final report (JSON) with the alert.
func (s *Store) SaveReport(ctx context.Context, id string, report []byte) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE alert_alerts SET report = ?, updated_at = ? WHERE id = ?`), string(report), stamp(), id)
	if err != nil {
		return fmt.Errorf("alert store: %w", err)
	}
	return nil
}

// SavedReport is the report kept with the alert ("" before it ends).
func (s *Store) SavedReport(ctx context.Context, id string) (string, error) {
	var r string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT report FROM alert_alerts WHERE id = ?`), id).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("alert %q: %w", id, ErrNotFound)
	}
	return r, err
}

// FeedSeen says whether tenant already handled feed entry.
func (s *Store) FeedSeen(ctx context.Context, tenant, entry string) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(*) FROM alert_feed_seen WHERE tenant = ? AND entry = ?`), tenant, entry).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("alert store: %w", err)
	}
	return n > 0, nil
}

// SeeFeedEntry records that tenant saw feed entry (an Atom id or CAP
// identifier) and says whether it is new.
func (s *Store) SeeFeedEntry(ctx context.Context, tenant, entry, alertID string) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO alert_feed_seen (tenant, entry, alert_id, seen_at) VALUES (?,?,?,?)
		ON CONFLICT (tenant, entry) DO NOTHING`), tenant, entry, alertID, stamp())
	if err != nil {
		return false, fmt.Errorf("alert store: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
