package reconcile

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// Match states of a stored receipt.
const (
	matchNone    = ""        // not examined yet
	matchMatched = "matched" // belongs to a campaign item
	matchAnomaly = "anomaly" // no item (unknown IUV): see reconcile_anomalies
	matchKO      = "ko"      // negative outcome: no money moved
)

// Write-back states of a payment.
const (
	wbNone    = ""
	wbWritten = "paid"    // the paid status is in the legacy system
	wbNoSink  = "no_sink" // nothing to write to (reason in wb_error)
	wbFailed  = "failed"  // the sink refused it (reason in wb_error); retried
)

// Store keeps receipts, the payments of campaign items and anomalies in the
// state database, next to the campaign tables.
type Store struct {
	db *store.DB
	// Campaigns is the campaign store of the same database.
	Campaigns *campaign.Store
}

// NewStore brings the reconciliation tables (and the campaign ones) of db
// up to date and returns the store.
func NewStore(ctx context.Context, db *store.DB) (*Store, error) {
	cs, err := campaign.NewStore(ctx, db)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx, Migrations); err != nil {
		return nil, fmt.Errorf("reconcile store in %s: %w", db.Where, err)
	}
	return &Store{db: db, Campaigns: cs}, nil
}

// RecordReceipt stores a receipt for reconciliation; it reports false when
// the same receipt (organization and receipt id) was stored before, which
// changes nothing.
func (s *Store) RecordReceipt(ctx context.Context, r pagopa.Receipt) (bool, error) {
	if r.OrgFiscalCode == "" || r.ReceiptID == "" || r.IUV == "" {
		return false, fmt.Errorf("reconcile: receipt without organization, receipt id or IUV: %+v", r)
	}
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO payment_receipts
		(org, receipt_id, iuv, nav, source, outcome, amount_cents, payment_date, debtor_fc, payer_fc, psp, received_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`),
		r.OrgFiscalCode, r.ReceiptID, r.IUV, r.NAV, r.Source, r.Outcome, r.AmountCents, r.PaymentDate.UTC().Format(time.RFC3339),
		r.Debtor.FiscalCode, r.Payer.FiscalCode, r.PSP.ID, time.Now().UTC().Format(time.RFC3339Nano))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// StoredReceipt is a receipt as stored, with its match.
type StoredReceipt struct {
	Org, ReceiptID, IUV, NAV, Source, Outcome string
	AmountCents                               int64
	PaymentDate                               time.Time
	DebtorFC, PayerFC, PSP                    string
	MatchState, CampaignID                    string
	Seq                                       int
	MatchedOn                                 string
}

const receiptCols = `org, receipt_id, iuv, nav, source, outcome, amount_cents, payment_date, debtor_fc, payer_fc, psp,
	match_state, campaign_id, seq, matched_on`

func (s *Store) receipts(ctx context.Context, where string, args ...any) ([]StoredReceipt, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT `+receiptCols+` FROM payment_receipts WHERE `+where+
		` ORDER BY payment_date, receipt_id`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []StoredReceipt
	for rows.Next() {
		var r StoredReceipt
		var pd string
		if err := rows.Scan(&r.Org, &r.ReceiptID, &r.IUV, &r.NAV, &r.Source, &r.Outcome, &r.AmountCents, &pd,
			&r.DebtorFC, &r.PayerFC, &r.PSP, &r.MatchState, &r.CampaignID, &r.Seq, &r.MatchedOn); err != nil {
			return nil, err
		}
		r.PaymentDate, _ = time.Parse(time.RFC3339, pd)
		out = append(out, r)
	}
	return out, rows.Err()
}

// Receipts returns every stored receipt of an organization, in payment order.
func (s *Store) Receipts(ctx context.Context, org string) ([]StoredReceipt, error) {
	return s.receipts(ctx, `org = ?`, org)
}

// Payments returns what reconciliation found for a campaign's items, by
// seq, in the shape of the campaign report.
func (s *Store) Payments(ctx context.Context, campaignID string) (map[int]campaign.Payment, error) {
	ps, err := s.payments(ctx, `campaign_id = ?`, campaignID)
	if err != nil {
		return nil, err
	}
	out := make(map[int]campaign.Payment, len(ps))
	for _, p := range ps {
		out[p.Seq] = p.Payment
	}
	return out, nil
}

// itemPayment is a row of campaign_payments.
type itemPayment struct {
	CampaignID string
	Seq        int
	campaign.Payment
	UpdatedOn, WBState, WBError, WBOn string
}

func (s *Store) payments(ctx context.Context, where string, args ...any) ([]itemPayment, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT campaign_id, seq, state, paid_cents, paid_date, receipt_ids,
		updated_on, wb_state, wb_error, wb_on FROM campaign_payments WHERE `+where+` ORDER BY campaign_id, seq`), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []itemPayment
	for rows.Next() {
		var p itemPayment
		var ids string
		if err := rows.Scan(&p.CampaignID, &p.Seq, &p.State, &p.PaidCents, &p.PaidDate, &ids,
			&p.UpdatedOn, &p.WBState, &p.WBError, &p.WBOn); err != nil {
			return nil, err
		}
		if ids != "" {
			p.ReceiptIDs = strings.Split(ids, ",")
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Anomaly is one reported anomaly.
type Anomaly struct {
	Org           string `json:"org"`
	Kind          string `json:"kind"`
	ReceiptID     string `json:"receiptId"`
	IUV           string `json:"iuv"`
	CampaignID    string `json:"campaignId,omitempty"`
	Seq           int    `json:"seq"`            // -1 when no item matched
	Line          int    `json:"line,omitempty"` // source line of the item (reports only)
	ExpectedCents int64  `json:"expectedCents"`
	PaidCents     int64  `json:"paidCents"`
	DetailIT      string `json:"detailIt"`
	DetailEN      string `json:"detailEn"`
	FoundOn       string `json:"foundOn"`
}

// addAnomaly records an anomaly once; it reports whether it is new.
func (s *Store) addAnomaly(ctx context.Context, a Anomaly) (bool, error) {
	res, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO reconcile_anomalies
		(org, kind, receipt_id, iuv, campaign_id, seq, expected_cents, paid_cents, detail_it, detail_en, found_on)
		VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT DO NOTHING`),
		a.Org, a.Kind, a.ReceiptID, a.IUV, a.CampaignID, a.Seq, a.ExpectedCents, a.PaidCents, a.DetailIT, a.DetailEN, a.FoundOn)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Anomalies returns an organization's anomalies, oldest first.
func (s *Store) Anomalies(ctx context.Context, org string) ([]Anomaly, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT org, kind, receipt_id, iuv, campaign_id, seq, expected_cents,
		paid_cents, detail_it, detail_en, found_on FROM reconcile_anomalies WHERE org = ? ORDER BY found_on, kind, receipt_id`), org)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Anomaly
	for rows.Next() {
		var a Anomaly
		if err := rows.Scan(&a.Org, &a.Kind, &a.ReceiptID, &a.IUV, &a.CampaignID, &a.Seq, &a.ExpectedCents,
			&a.PaidCents, &a.DetailIT, &a.DetailEN, &a.FoundOn); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
