package info

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

// Migrations is the state-store component of the info tables.
var Migrations = store.Register(store.Component{Name: "info", FS: migrationsFS, Dir: "migrations", After: []string{channels.Migrations}})

// Campaign states.
const (
	StateStaged    = "staged"
	StateSending   = "sending"
	StatePaused    = "paused"
	StateDone      = "done"
	StateCancelled = "cancelled"
)

// Consent statuses.
const (
	Granted   = "granted"
	Withdrawn = "withdrawn"
)

// AnyChannel is the channel of a consent that covers every channel.
const AnyChannel = "*"

// Store keeps the campaigns, their recipients and the consent evidence;
// the messages are in the outbox.
type Store struct {
	db     *store.DB
	outbox *channels.Outbox
}

// NewStore brings the info tables (and the outbox) up to date.
func NewStore(ctx context.Context, db *store.DB) (*Store, error) {
	ob, err := channels.NewOutbox(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("info store in %s: %w", db.Where, err)
	}
	return &Store{db: db, outbox: ob}, nil
}

// Outbox is where the campaign's messages are sent from.
func (s *Store) Outbox() *channels.Outbox { return s.outbox }

// timeLayout is fixed-width so that times sort as text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

func fmtTime(t time.Time) string { return t.UTC().Format(timeLayout) }

func parseTime(s string) time.Time {
	t, _ := time.Parse(timeLayout, s) // written by fmtTime
	return t
}

// ErrNotFound is returned for a campaign the store does not know.
var ErrNotFound = errors.New("no such information campaign")

// Record is one campaign as stored.
type Record struct {
	Tenant     string    `json:"tenant"`
	ID         string    `json:"id"`
	Topic      string    `json:"topic"`
	State      string    `json:"state"`
	Definition string    `json:"definition"` // JSON
	Recipients int       `json:"recipients"` // -1 before staging
	CreatedAt  time.Time `json:"createdAt"`
	UpdatedAt  time.Time `json:"updatedAt"`
}

// Create records a campaign; creating it again changes nothing.
func (s *Store) Create(ctx context.Context, r Record) error {
	ts := fmtTime(time.Now())
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO info_campaigns (tenant, id, topic, state, definition, created_at, updated_at)
		VALUES (?,?,?,?,?,?,?) ON CONFLICT (tenant, id) DO NOTHING`), r.Tenant, r.ID, r.Topic, r.State, r.Definition, ts, ts)
	if err != nil {
		return fmt.Errorf("info store: creating %s: %w", r.ID, err)
	}
	return nil
}

// Get returns a tenant's campaign.
func (s *Store) Get(ctx context.Context, tenantID, id string) (Record, error) {
	var r Record
	var c, u string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT tenant, id, topic, state, definition, recipients, created_at, updated_at
		FROM info_campaigns WHERE tenant = ? AND id = ?`), tenantID, id).Scan(&r.Tenant, &r.ID, &r.Topic, &r.State, &r.Definition, &r.Recipients, &c, &u)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("campaign %q of %s: %w", id, tenantID, ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("info store: %w", err)
	}
	r.CreatedAt, r.UpdatedAt = parseTime(c), parseTime(u)
	return r, nil
}

// SetState records where the campaign stands.
func (s *Store) SetState(ctx context.Context, tenantID, id, state string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE info_campaigns SET state = ?, updated_at = ? WHERE tenant = ? AND id = ?`), state, fmtTime(time.Now()), tenantID, id)
	if err != nil {
		return fmt.Errorf("info store: %w", err)
	}
	return nil
}

// Recipient is one person a campaign goes to.
type Recipient struct {
	Seq        int64    `json:"seq"`
	Subject    string   `json:"subject"` // <source>/<person key>: whose consent it is
	FiscalCode string   `json:"fiscalCode,omitempty"`
	Name       string   `json:"name,omitempty"`
	Email      string   `json:"email,omitempty"`
	Phone      string   `json:"phone,omitempty"`
	Lang       string   `json:"lang,omitempty"`
	Channels   []string `json:"channels,omitempty"` // preferences, in order
}

// To is the recipient as channels address people.
func (r Recipient) To() channels.Recipient {
	return channels.Recipient{FiscalCode: r.FiscalCode, Name: r.Name, Email: r.Email, Phone: r.Phone, Lang: r.Lang}
}

// Stage stores the recipients (seq from 1) unless an earlier attempt did,
// and returns how many there are.
func (s *Store) Stage(ctx context.Context, tenantID, id string, rs []Recipient) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("info store: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	var n int
	if err := tx.QueryRowContext(ctx, s.db.Rebind(`SELECT recipients FROM info_campaigns WHERE tenant = ? AND id = ?`), tenantID, id).Scan(&n); err != nil {
		return 0, fmt.Errorf("info store: %s: %w", id, err)
	}
	if n >= 0 {
		return n, nil
	}
	if len(rs) > 0 {
		rows := make([][]any, len(rs))
		for i, r := range rs {
			rows[i] = []any{tenantID, id, r.Seq, r.Subject, r.FiscalCode, r.Name, r.Email, r.Phone, r.Lang, strings.Join(r.Channels, ",")}
		}
		if err := s.db.InsertRows(ctx, tx, `INSERT INTO info_recipients (tenant, campaign, seq, subject, fiscal_code, name, email, phone, lang, channels)`, "", rows); err != nil {
			return 0, fmt.Errorf("info store: staging %s: %w", id, err)
		}
	}
	if _, err := tx.ExecContext(ctx, s.db.Rebind(`UPDATE info_campaigns SET recipients = ?, state = ?, updated_at = ? WHERE tenant = ? AND id = ?`),
		len(rs), StateStaged, fmtTime(time.Now()), tenantID, id); err != nil {
		return 0, fmt.Errorf("info store: %w", err)
	}
	return len(rs), tx.Commit()
}

// Recipients returns the recipients with seq in [from, to), in order.
func (s *Store) Recipients(ctx context.Context, tenantID, id string, from, to int64) ([]Recipient, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, subject, fiscal_code, name, email, phone, lang, channels
		FROM info_recipients WHERE tenant = ? AND campaign = ? AND seq >= ? AND seq < ? ORDER BY seq`), tenantID, id, from, to)
	if err != nil {
		return nil, fmt.Errorf("info store: %w", err)
	}
	defer rows.Close()
	var out []Recipient
	for rows.Next() {
		var r Recipient
		var chans string
		if err := rows.Scan(&r.Seq, &r.Subject, &r.FiscalCode, &r.Name, &r.Email, &r.Phone, &r.Lang, &chans); err != nil {
			return nil, fmt.Errorf("info store: %w", err)
		}
		if chans != "" {
			r.Channels = strings.Split(chans, ",")
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SaveReport keeps the final report (JSON) with the campaign.
func (s *Store) SaveReport(ctx context.Context, tenantID, id string, report []byte) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE info_campaigns SET report = ?, updated_at = ? WHERE tenant = ? AND id = ?`), string(report), fmtTime(time.Now()), tenantID, id)
	if err != nil {
		return fmt.Errorf("info store: %w", err)
	}
	return nil
}

// SavedReport is the report kept with the campaign ("" before it ends).
func (s *Store) SavedReport(ctx context.Context, tenantID, id string) (string, error) {
	var r string
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT report FROM info_campaigns WHERE tenant = ? AND id = ?`), tenantID, id).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("campaign %q of %s: %w", id, tenantID, ErrNotFound)
	}
	return r, err
}

// Consent is one consent record: a grant or a withdrawal, the evidence of
// GDPR art. 7(1).
type Consent struct {
	ID         string    `json:"id"`
	Tenant     string    `json:"tenant"`
	Subject    string    `json:"subject"` // <source>/<person key>
	FiscalCode string    `json:"fiscalCode,omitempty"`
	Phone      string    `json:"phone,omitempty"`
	Email      string    `json:"email,omitempty"`
	Topic      string    `json:"topic"`
	Channel    string    `json:"channel"` // "*": every channel
	Status     string    `json:"status"`  // granted, withdrawn
	At         time.Time `json:"at"`
	Source     string    `json:"source"`             // residenti.csv line 12, unsubscribe link, operator X
	Campaign   string    `json:"campaign,omitempty"` // the campaign whose link withdrew it
}

// RecordConsent stores c unless a record with its id exists, and says
// whether it was new: a grant imported from a source is recorded once.
func (s *Store) RecordConsent(ctx context.Context, c Consent) (bool, error) {
	if c.Channel == "" {
		c.Channel = AnyChannel
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO info_consent (id, tenant, subject, fiscal_code, phone, email, topic, channel, status, at, source, campaign)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING`),
		c.ID, c.Tenant, c.Subject, c.FiscalCode, c.Phone, c.Email, c.Topic, c.Channel, c.Status, fmtTime(c.At), c.Source, c.Campaign)
	if err != nil {
		return false, fmt.Errorf("info store: consent: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// ConsentOf is the subject's current consent to topic: the latest record
// (Status "" when there is none).
func (s *Store) ConsentOf(ctx context.Context, tenantID, subject, topic string) (Consent, error) {
	cs, err := s.consents(ctx, `WHERE tenant = ? AND subject = ? AND topic = ? ORDER BY at DESC, status DESC LIMIT 1`, tenantID, subject, topic)
	if err != nil || len(cs) == 0 {
		return Consent{}, err
	}
	return cs[0], nil
}

// Consents returns the tenant's consent records (of topic, unless ""), in
// time order: the evidence.
func (s *Store) Consents(ctx context.Context, tenantID, topic string) ([]Consent, error) {
	if topic == "" {
		return s.consents(ctx, `WHERE tenant = ? ORDER BY at, id`, tenantID)
	}
	return s.consents(ctx, `WHERE tenant = ? AND topic = ? ORDER BY at, id`, tenantID, topic)
}

// Withdrawals are the withdrawals made through campaign's links.
func (s *Store) Withdrawals(ctx context.Context, tenantID, campaign string) ([]Consent, error) {
	return s.consents(ctx, `WHERE tenant = ? AND campaign = ? AND status = 'withdrawn' ORDER BY at, id`, tenantID, campaign)
}

func (s *Store) consents(ctx context.Context, where string, args ...any) ([]Consent, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT id, tenant, subject, fiscal_code, phone, email, topic, channel, status, at, source, campaign
		FROM info_consent `+where), args...)
	if err != nil {
		return nil, fmt.Errorf("info store: %w", err)
	}
	defer rows.Close()
	var out []Consent
	for rows.Next() {
		var c Consent
		var at string
		if err := rows.Scan(&c.ID, &c.Tenant, &c.Subject, &c.FiscalCode, &c.Phone, &c.Email, &c.Topic, &c.Channel, &c.Status, &at, &c.Source, &c.Campaign); err != nil {
			return nil, fmt.Errorf("info store: %w", err)
		}
		c.At = parseTime(at)
		out = append(out, c)
	}
	return out, rows.Err()
}
