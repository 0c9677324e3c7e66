package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/store"
)

// Item states. A debt position moves staged → published | position_failed; the
// IO side moves "" → sending → sent | not_on_io | not_allowed | failed |
// retry | unknown. "sending" is written before the message is submitted, so an
// attempt that died mid-send is found on retry and never blindly resent.
const (
	StateStaged         = "staged"
	StatePublished      = "published"
	StatePositionFailed = "position_failed"

	IONone       = ""
	IOSending    = "sending"
	IOSent       = "sent"
	IONotOnIO    = "not_on_io"
	IONotAllowed = "not_allowed"
	IOFailed     = "failed"
	IORetry      = "retry"
	IOUnknown    = "unknown"

	// Fallback states, for debtors App IO cannot reach.
	FallbackSending   = "sending"
	FallbackSent      = "email_sent"
	FallbackRetry     = "retry"
	FallbackFailed    = "failed"
	FallbackUnknown   = "unknown"
	FallbackNoAddress = "no_email"   // print and post the notice
	FallbackNoChannel = "no_channel" // the tenant has no email relay configured
)

// Item is one debtor of a campaign and what happened to it.
type Item struct {
	Seq           int
	Line          int
	ExternalID    string
	FiscalCode    string
	Name          string
	Surname       string
	Email         string
	AmountCents   int64
	DueDate       string
	Description   string
	State         string
	IUPD          string
	IUV           string
	NAV           string
	PositionError string
	IOState       string
	IOMessageID   string
	IOError       string
	FallbackState string
	FallbackError string
	// Rate are the installments of the item's debt position, when the
	// campaign offers payment in rate (empty otherwise).
	Rate []Rata
}

// Store keeps campaign items and rejects in the state database.
type Store struct{ db *store.DB }

// NewStore brings the campaign tables of db up to date (see Migrations)
// and returns the store.
func NewStore(ctx context.Context, db *store.DB) (*Store, error) {
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("campaign store in %s: %w", db.Where, err)
	}
	return &Store{db: db}, nil
}

// AddItem stages a debtor; staging the same campaign again is a no-op per seq.
func (s *Store) AddItem(ctx context.Context, campaignID string, seq int, d legacy.Debtor) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO campaign_items
		(campaign_id, seq, line, external_id, fiscal_code, name, surname, email, amount_cents, due_date, description, updated_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`),
		campaignID, seq, d.Line, d.ExternalID, d.FiscalCode, d.Name, d.Surname, d.Email, d.AmountCents, d.DueDate, d.Description, now())
	return err
}

// AddReject records a rejected source row.
func (s *Store) AddReject(ctx context.Context, campaignID string, r legacy.Reject) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO campaign_rejects
		(campaign_id, source, line, field, value, rule, message_it, message_en)
		VALUES (?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`),
		campaignID, r.Source, r.Line, r.Field, r.Value, r.Rule, r.MessageIT, r.MessageEN)
	return err
}

const itemCols = `seq, line, external_id, fiscal_code, name, surname, email, amount_cents, due_date, description,
	state, iupd, iuv, nav, position_error, io_state, io_message_id, io_error, fallback_state, fallback_error`

func scanItems(rows *sql.Rows) ([]Item, error) {
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Seq, &it.Line, &it.ExternalID, &it.FiscalCode, &it.Name, &it.Surname, &it.Email,
			&it.AmountCents, &it.DueDate, &it.Description, &it.State, &it.IUPD, &it.IUV, &it.NAV,
			&it.PositionError, &it.IOState, &it.IOMessageID, &it.IOError, &it.FallbackState, &it.FallbackError); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Items returns the items with seq in [from, to), in order.
func (s *Store) Items(ctx context.Context, campaignID string, from, to int) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+itemCols+` FROM campaign_items
		WHERE campaign_id = ? AND seq >= ? AND seq < ? ORDER BY seq`), campaignID, from, to)
	if err != nil {
		return nil, err
	}
	items, err := scanItems(rows)
	if err != nil {
		return nil, err
	}
	return items, s.attachRate(ctx, campaignID, items)
}

// AllItems returns every item of a campaign, in source order.
func (s *Store) AllItems(ctx context.Context, campaignID string) ([]Item, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+itemCols+` FROM campaign_items
		WHERE campaign_id = ? ORDER BY seq`), campaignID)
	if err != nil {
		return nil, err
	}
	items, err := scanItems(rows)
	if err != nil {
		return nil, err
	}
	return items, s.attachRate(ctx, campaignID, items)
}

// Rejects returns the rejected source rows of a campaign, by line.
func (s *Store) Rejects(ctx context.Context, campaignID string) ([]legacy.Reject, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT source, line, field, value, rule, message_it, message_en
		FROM campaign_rejects WHERE campaign_id = ? ORDER BY line, field`), campaignID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []legacy.Reject
	for rows.Next() {
		var r legacy.Reject
		if err := rows.Scan(&r.Source, &r.Line, &r.Field, &r.Value, &r.Rule, &r.MessageIT, &r.MessageEN); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// SetPosition records the outcome of creating an item's debt position.
func (s *Store) SetPosition(ctx context.Context, campaignID string, seq int, state, iupd, iuv, nav, errText string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE campaign_items SET state = ?, iupd = ?, iuv = ?, nav = ?,
		position_error = ?, updated_at = ? WHERE campaign_id = ? AND seq = ?`),
		state, iupd, iuv, nav, errText, now(), campaignID, seq)
	return err
}

// PositionUpdate is the outcome of creating one item's debt position.
type PositionUpdate struct {
	Seq                          int
	State, IUPD, IUV, NAV, Error string
	Rate                         []Rata // installments created with the position
}

// SetPositions records many position outcomes in one transaction (one
// commit per batch instead of one per debtor).
func (s *Store) SetPositions(ctx context.Context, campaignID string, ups []PositionUpdate) error {
	if len(ups) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, s.db.Rebind(`UPDATE campaign_items SET state = ?, iupd = ?, iuv = ?, nav = ?,
		position_error = ?, updated_at = ? WHERE campaign_id = ? AND seq = ?`))
	if err != nil {
		return err
	}
	defer stmt.Close()
	ts := now()
	var rate *sql.Stmt
	for _, u := range ups {
		if _, err := stmt.ExecContext(ctx, u.State, u.IUPD, u.IUV, u.NAV, u.Error, ts, campaignID, u.Seq); err != nil {
			return err
		}
		for _, r := range u.Rate {
			if rate == nil {
				if rate, err = tx.PrepareContext(ctx, s.db.Rebind(`INSERT INTO campaign_installments
					(campaign_id, seq, n, iuv, nav, amount_cents, due_date) VALUES (?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`)); err != nil {
					return err
				}
				defer rate.Close()
			}
			if _, err := rate.ExecContext(ctx, campaignID, u.Seq, r.N, r.IUV, r.NAV, r.AmountCents, r.DueDate); err != nil {
				return err
			}
		}
	}
	return tx.Commit()
}

// SetIO records the IO state of an item.
func (s *Store) SetIO(ctx context.Context, campaignID string, seq int, state, messageID, errText string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE campaign_items SET io_state = ?, io_message_id = ?,
		io_error = ?, updated_at = ? WHERE campaign_id = ? AND seq = ?`),
		state, messageID, errText, now(), campaignID, seq)
	return err
}

// IOUpdate is the App IO state of one item.
type IOUpdate struct {
	Seq                     int
	State, MessageID, Error string
}

// SetIOMany records many IO states in one transaction.
func (s *Store) SetIOMany(ctx context.Context, campaignID string, ups []IOUpdate) error {
	ts := now()
	return s.execEach(ctx, `UPDATE campaign_items SET io_state = ?, io_message_id = ?,
		io_error = ?, updated_at = ? WHERE campaign_id = ? AND seq = ?`, len(ups), func(i int) []any {
		u := ups[i]
		return []any{u.State, u.MessageID, u.Error, ts, campaignID, u.Seq}
	})
}

// execEach runs one prepared statement n times, with args(i), in one
// transaction.
func (s *Store) execEach(ctx context.Context, query string, n int, args func(i int) []any) error {
	if n == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	stmt, err := tx.PrepareContext(ctx, s.db.Rebind(query))
	if err != nil {
		return err
	}
	defer stmt.Close()
	for i := range n {
		if _, err := stmt.ExecContext(ctx, args(i)...); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// SetFallback records the fallback-channel state of an item.
func (s *Store) SetFallback(ctx context.Context, campaignID string, seq int, state, errText string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE campaign_items SET fallback_state = ?, fallback_error = ?,
		updated_at = ? WHERE campaign_id = ? AND seq = ?`), state, errText, now(), campaignID, seq)
	return err
}

// Counts returns the totals of a campaign from its items.
func (s *Store) Counts(ctx context.Context, campaignID string) (Progress, error) {
	var p Progress
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT state, io_state, fallback_state, COUNT(*) FROM campaign_items
		WHERE campaign_id = ? GROUP BY state, io_state, fallback_state`), campaignID)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	for rows.Next() {
		var st, io, fb string
		var n int
		if err := rows.Scan(&st, &io, &fb, &n); err != nil {
			return p, err
		}
		switch fb {
		case FallbackSent:
			p.EmailsSent += n
		case FallbackNoAddress, FallbackNoChannel:
			p.NeedPrint += n
		case FallbackFailed, FallbackUnknown, FallbackSending:
			p.EmailsFailed += n
		}
		p.Valid += n
		switch st {
		case StatePublished:
			p.PositionsPublished += n
		case StatePositionFailed:
			p.PositionsFailed += n
		}
		switch io {
		case IOSent:
			p.MessagesSent += n
		case IONotOnIO:
			p.NotOnIO += n
		case IONotAllowed:
			p.SenderNotAllowed += n
		case IOFailed:
			p.MessagesFailed += n
		case IOUnknown, IOSending:
			p.MessagesUnknown += n
		}
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(DISTINCT line) FROM campaign_rejects WHERE campaign_id = ?`), campaignID).Scan(&p.Rejected)
	p.Read = p.Valid + p.Rejected
	return p, err
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }
