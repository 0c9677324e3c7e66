package campaign

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/internal/store"
)

// Item states. A debt position moves staged → published | position_failed.
// The messages of an item — its App IO message, its fallback and each
// reminder — live in the outbox (channels.Outbox) under the campaign's
// scope: the outbox's states (sending, sent, retry, failed, unknown) plus
// the campaign's own outcomes for messages it decided not to send
// (not_on_io, not_allowed, no_address, no_channel). "sending" is written
// before a message is handed to its channel, so an attempt that died
// mid-send is found on retry and never blindly resent.
const (
	StateStaged         = "staged"
	StatePublished      = "published"
	StatePositionFailed = "position_failed"

	IONone       = ""
	IOSending    = channels.StateSending
	IOSent       = channels.StateSent
	IONotOnIO    = "not_on_io"
	IONotAllowed = "not_allowed"
	IOFailed     = channels.StateFailed
	IORetry      = channels.StateRetry
	IOUnknown    = channels.StateUnknown

	// Fallback states, for debtors App IO cannot reach.
	FallbackSending   = channels.StateSending
	FallbackSent      = channels.StateSent
	FallbackRetry     = channels.StateRetry
	FallbackFailed    = channels.StateFailed
	FallbackUnknown   = channels.StateUnknown
	FallbackNoAddress = "no_address" // no channel has an address for the debtor: print and post the notice
	FallbackNoChannel = "no_channel" // the tenant has no channel besides App IO, or the campaign prints
)

// Outbox slots of an item's messages.
const (
	SlotIO       = "io"
	SlotFallback = "fallback"
)

// SlotReminder is the outbox slot of reminder n (from 1).
func SlotReminder(n int) string { return "reminder-" + strconv.Itoa(n) }

// Scope is the outbox scope of a campaign's messages.
func Scope(campaignID string) string { return "campaign:" + campaignID }

// Item is one debtor of a campaign and what happened to it.
type Item struct {
	Seq        int
	Line       int
	ExternalID string
	// Key is the record's identity in its source (legacy.Debtor.Key): the
	// external id, key columns, identity fields or position.
	Key           string
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
	// FallbackChannel is the channel kind the fallback went through
	// (email, …), or "" when none was tried.
	FallbackChannel string
	// Rate are the installments of the item's debt position, when the
	// campaign offers payment in rate (empty otherwise).
	Rate []Rata
}

// Store keeps campaign items and rejects in the state database, and the
// items' messages in the outbox of the same database.
type Store struct {
	db     *store.DB
	outbox *channels.Outbox
}

// Outbox is where the campaign's messages are sent from.
func (s *Store) Outbox() *channels.Outbox { return s.outbox }

// NewStore brings the campaign tables of db up to date (see Migrations)
// and returns the store.
func NewStore(ctx context.Context, db *store.DB) (*Store, error) {
	if err := db.Migrate(ctx, Migrations); err != nil { // the outbox's too (After)
		return nil, fmt.Errorf("campaign store in %s: %w", db.Where, err)
	}
	ob, err := channels.NewOutbox(ctx, db)
	if err != nil {
		return nil, err
	}
	return &Store{db: db, outbox: ob}, nil
}

// AddItem stages a debtor; staging the same campaign again is a no-op per seq.
func (s *Store) AddItem(ctx context.Context, campaignID string, seq int, d legacy.Debtor) error {
	return s.Stage(ctx, campaignID, []Staged{{Seq: seq, Debtor: d}}, nil)
}

// AddReject records a rejected source row.
func (s *Store) AddReject(ctx context.Context, campaignID string, r legacy.Reject) error {
	return s.Stage(ctx, campaignID, nil, []legacy.Reject{r})
}

// Staged is a valid debtor with its position in the campaign.
type Staged struct {
	Seq    int
	Debtor legacy.Debtor
}

// Stage stores debtors and rejected rows in one transaction, with as few
// statements as possible; staging the same rows again is a no-op.
func (s *Store) Stage(ctx context.Context, campaignID string, items []Staged, rejects []legacy.Reject) error {
	if len(items) == 0 && len(rejects) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ts := now()
	rows := make([][]any, len(items))
	for i, it := range items {
		d := it.Debtor
		rows[i] = []any{campaignID, it.Seq, d.Line, d.ExternalID, d.Key, d.FiscalCode, d.Name, d.Surname, d.Email, d.AmountCents, d.DueDate, d.Description, ts}
	}
	if err := s.db.InsertRows(ctx, tx, `INSERT INTO campaign_items
		(campaign_id, seq, line, external_id, record_key, fiscal_code, name, surname, email, amount_cents, due_date, description, updated_at)`,
		`ON CONFLICT DO NOTHING`, rows); err != nil {
		return err
	}
	rows = make([][]any, len(rejects))
	for i, r := range rejects {
		rows[i] = []any{campaignID, r.Source, r.Line, r.Key, r.Field, r.Value, r.Rule, r.MessageIT, r.MessageEN}
	}
	if err := s.db.InsertRows(ctx, tx, `INSERT INTO campaign_rejects
		(campaign_id, source, line, record_key, field, value, rule, message_it, message_en)`, `ON CONFLICT DO NOTHING`, rows); err != nil {
		return err
	}
	return tx.Commit()
}

const itemCols = `seq, line, external_id, record_key, fiscal_code, name, surname, email, amount_cents, due_date, description,
	state, iupd, iuv, nav, position_error`

func scanItems(rows *sql.Rows) ([]Item, error) {
	defer rows.Close()
	var out []Item
	for rows.Next() {
		var it Item
		if err := rows.Scan(&it.Seq, &it.Line, &it.ExternalID, &it.Key, &it.FiscalCode, &it.Name, &it.Surname, &it.Email,
			&it.AmountCents, &it.DueDate, &it.Description, &it.State, &it.IUPD, &it.IUV, &it.NAV, &it.PositionError); err != nil {
			return nil, err
		}
		out = append(out, it)
	}
	return out, rows.Err()
}

// Items returns the items with seq in [from, to), in order, with the state
// of their App IO message and of their fallback from the outbox.
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
	if err := s.attachMessages(ctx, campaignID, items, int64(from), int64(to)); err != nil {
		return nil, err
	}
	return items, s.attachRate(ctx, campaignID, items)
}

// AllItems returns every item of a campaign, in source order.
func (s *Store) AllItems(ctx context.Context, campaignID string) ([]Item, error) {
	return s.Items(ctx, campaignID, 0, math.MaxInt32)
}

// attachMessages fills the App IO and fallback fields of items (seq in
// [from, to)) from the outbox. Items and messages are read apart and joined
// here: a SQL join's plan depends on statistics that lag behind a table
// growing during a campaign, and PostgreSQL then scanned the outbox once
// per item.
func (s *Store) attachMessages(ctx context.Context, campaignID string, items []Item, from, to int64) error {
	if len(items) == 0 {
		return nil
	}
	byItem, err := s.outbox.Slots(ctx, Scope(campaignID), []string{SlotIO, SlotFallback}, from, to)
	if err != nil {
		return err
	}
	for i := range items {
		it := &items[i]
		for _, e := range byItem[int64(it.Seq)] {
			switch e.Slot {
			case SlotIO:
				it.IOState, it.IOMessageID, it.IOError = e.State, e.MessageID, e.Error
			case SlotFallback:
				it.FallbackState, it.FallbackError, it.FallbackChannel = e.State, e.Error, e.Channel
			}
		}
	}
	return nil
}

// ItemRef is what other packages need to know about the item an IUV
// belongs to (reconciliation matching a receipt).
type ItemRef struct {
	CampaignID  string
	Seq         int
	IUPD, IUV   string
	AmountCents int64
	State       string
}

// ItemsByIUV finds the items whose single payment has one of iuvs, in any
// campaign of this state store.
func (s *Store) ItemsByIUV(ctx context.Context, iuvs []string) ([]ItemRef, error) {
	var out []ItemRef
	for i := 0; i < len(iuvs); i += 400 {
		chunk := iuvs[i:min(i+400, len(iuvs))]
		args := make([]any, len(chunk))
		for k, v := range chunk {
			args[k] = v
		}
		rows, err := s.db.QueryContext(ctx, s.db.Rebind(itemsByIUV(len(chunk))), args...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var r ItemRef
			if err := rows.Scan(&r.CampaignID, &r.Seq, &r.IUPD, &r.IUV, &r.AmountCents, &r.State); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, r)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// itemsByIUV is ItemsByIUV's query for n IUVs. It repeats the condition of
// the partial index campaign_items_iuv (an IUV that is not empty), without
// which neither SQLite nor PostgreSQL (past 100 values) would use the
// index; it also keeps an empty IUV from matching every item without one.
func itemsByIUV(n int) string {
	return `SELECT campaign_id, seq, iupd, iuv, amount_cents, state
		FROM campaign_items WHERE iuv IN (?` + strings.Repeat(",?", n-1) + `) AND iuv <> ''`
}

// PublishedSeqs lists the items of a campaign with a published debt
// position (an IUV on GPD), with seq in [from, to), in order.
func (s *Store) PublishedSeqs(ctx context.Context, campaignID string, from, to int) ([]int, error) {
	return s.seqs(ctx, `SELECT seq FROM campaign_items WHERE campaign_id = ? AND seq >= ? AND seq < ? AND state = ? AND iuv <> '' ORDER BY seq`,
		campaignID, from, to, StatePublished)
}

func (s *Store) seqs(ctx context.Context, q string, args ...any) ([]int, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(q), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// Rejects returns the rejected source rows of a campaign, by line.
func (s *Store) Rejects(ctx context.Context, campaignID string) ([]legacy.Reject, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT source, line, record_key, field, value, rule, message_it, message_en
		FROM campaign_rejects WHERE campaign_id = ? ORDER BY line, field`), campaignID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []legacy.Reject
	for rows.Next() {
		var r legacy.Reject
		if err := rows.Scan(&r.Source, &r.Line, &r.Key, &r.Field, &r.Value, &r.Rule, &r.MessageIT, &r.MessageEN); err != nil {
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
// commit per batch instead of one per debtor), with one multi-row UPDATE
// and one multi-row INSERT of installments per few hundred items: a
// statement per item was a round trip per item on PostgreSQL.
func (s *Store) SetPositions(ctx context.Context, campaignID string, ups []PositionUpdate) error {
	if len(ups) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ts := now()
	rows := make([][]any, len(ups))
	var rate [][]any
	for i, u := range ups {
		rows[i] = []any{campaignID, u.Seq, u.State, u.IUPD, u.IUV, u.NAV, u.Error, ts}
		for _, r := range u.Rate {
			rate = append(rate, []any{campaignID, u.Seq, r.N, r.IUV, r.NAV, r.AmountCents, r.DueDate})
		}
	}
	if err := s.db.UpdateRows(ctx, tx, "campaign_items", positionCols,
		`state = v.state, iupd = v.iupd, iuv = v.iuv, nav = v.nav, position_error = v.position_error, updated_at = v.updated_at`,
		`campaign_items.campaign_id = v.campaign_id AND campaign_items.seq = v.seq`, rows); err != nil {
		return err
	}
	if err := s.db.InsertRows(ctx, tx, `INSERT INTO campaign_installments
		(campaign_id, seq, n, iuv, nav, amount_cents, due_date)`, `ON CONFLICT DO NOTHING`, rate); err != nil {
		return fmt.Errorf("recording installments: %w", err)
	}
	return tx.Commit()
}

// positionCols are the values of SetPositions' update; the key first.
var positionCols = []store.Col{
	{Name: "campaign_id", Key: true}, {Name: "seq", Type: "INTEGER", Key: true},
	{Name: "state"}, {Name: "iupd"}, {Name: "iuv"}, {Name: "nav"}, {Name: "position_error"}, {Name: "updated_at"},
}

// SetIO sets the state of an item's App IO message as given, whatever it
// was (see channels.Outbox.Set): for tests and operators; sending goes
// through the outbox's Run.
func (s *Store) SetIO(ctx context.Context, campaignID string, seq int, state, messageID, errText string) error {
	return s.outbox.Set(ctx, channels.Entry{Key: channels.Key{Scope: Scope(campaignID), Item: int64(seq), Slot: SlotIO},
		Channel: appio.KindAppIO, State: state, MessageID: messageID, Error: errText})
}

// SetFallback sets the state of an item's fallback message as given (see
// SetIO); a sent fallback went by email.
func (s *Store) SetFallback(ctx context.Context, campaignID string, seq int, state, errText string) error {
	channel := ""
	if state != FallbackNoAddress && state != FallbackNoChannel {
		channel = channels.KindEmail
	}
	return s.outbox.Set(ctx, channels.Entry{Key: channels.Key{Scope: Scope(campaignID), Item: int64(seq), Slot: SlotFallback},
		Channel: channel, State: state, Error: errText})
}

// Counts returns the totals of a campaign from its items and their
// messages in the outbox.
func (s *Store) Counts(ctx context.Context, campaignID string) (Progress, error) {
	var p Progress
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq, state FROM campaign_items WHERE campaign_id = ?`), campaignID)
	if err != nil {
		return p, err
	}
	defer rows.Close()
	states := map[int64]string{}
	for rows.Next() {
		var seq int64
		var st string
		if err := rows.Scan(&seq, &st); err != nil {
			return p, err
		}
		states[seq] = st
	}
	if err := rows.Err(); err != nil {
		return p, err
	}
	msgs, err := s.outbox.Slots(ctx, Scope(campaignID), []string{SlotIO, SlotFallback}, 0, math.MaxInt32)
	if err != nil {
		return p, err
	}
	for seq, st := range states {
		var io, fb string
		for _, e := range msgs[seq] {
			if e.Slot == SlotIO {
				io = e.State
			} else {
				fb = e.State
			}
		}
		switch fb {
		case FallbackSent:
			p.EmailsSent++
		case FallbackNoAddress, FallbackNoChannel:
			p.NeedPrint++
		case FallbackFailed, FallbackUnknown, FallbackSending:
			p.EmailsFailed++
		}
		p.Valid++
		switch st {
		case StatePublished:
			p.PositionsPublished++
		case StatePositionFailed:
			p.PositionsFailed++
		}
		switch io {
		case IOSent:
			p.MessagesSent++
		case IONotOnIO:
			p.NotOnIO++
		case IONotAllowed:
			p.SenderNotAllowed++
		case IOFailed:
			p.MessagesFailed++
		case IOUnknown, IOSending:
			p.MessagesUnknown++
		}
	}
	err = s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT COUNT(DISTINCT line) FROM campaign_rejects WHERE campaign_id = ?`), campaignID).Scan(&p.Rejected)
	p.Read = p.Valid + p.Rejected
	return p, err
}

func now() string { return time.Now().UTC().Format(time.RFC3339Nano) }
