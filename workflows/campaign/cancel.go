package campaign

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// StateCancelled is the item state after a cancel: its debt position was
// invalidated on GPD, or it never had one.
const StateCancelled = "cancelled"

// Meta is what the state store remembers about a campaign beyond its items:
// the tenant and source it was started with (reconciliation writes back
// through that source's sink) and when it was cancelled.
type Meta struct {
	CampaignID  string
	TenantID    string
	Source      string
	Subject     string
	StartedAt   string
	CancelledAt string
}

// DB is the state database the store keeps its tables in, for packages that
// keep tables next to the campaign's (reconciliation).
func (s *Store) DB() *store.DB { return s.db }

// RecordMeta remembers a campaign's tenant and source. A campaign id already
// used by another tenant in this state store is refused: items are keyed by
// campaign id alone.
func (s *Store) RecordMeta(ctx context.Context, m Meta) error {
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO campaign_meta (campaign_id, tenant_id, source, subject, started_at)
		VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`), m.CampaignID, m.TenantID, m.Source, m.Subject, now()); err != nil {
		return err
	}
	got, err := s.Meta(ctx, m.CampaignID)
	if err != nil {
		return err
	}
	if got.TenantID != m.TenantID {
		return fmt.Errorf("campaign id %q is already used by tenant %q in this state store; choose another id", m.CampaignID, got.TenantID)
	}
	return nil
}

// ErrNoMeta is returned by Meta for a campaign started before campaigns were
// recorded (or not in this state store).
var ErrNoMeta = errors.New("campaign not recorded in this state store")

// Meta returns what is recorded about a campaign, or ErrNoMeta.
func (s *Store) Meta(ctx context.Context, campaignID string) (Meta, error) {
	m := Meta{CampaignID: campaignID}
	err := s.db.QueryRowContext(ctx, s.db.Rebind(`SELECT tenant_id, source, subject, started_at, cancelled_at
		FROM campaign_meta WHERE campaign_id = ?`), campaignID).Scan(&m.TenantID, &m.Source, &m.Subject, &m.StartedAt, &m.CancelledAt)
	if errors.Is(err, sql.ErrNoRows) {
		return m, fmt.Errorf("campaign %q: %w", campaignID, ErrNoMeta)
	}
	return m, err
}

// Campaigns lists the recorded campaigns of a tenant, oldest first.
func (s *Store) Campaigns(ctx context.Context, tenantID string) ([]Meta, error) {
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT campaign_id, tenant_id, source, subject, started_at, cancelled_at
		FROM campaign_meta WHERE tenant_id = ? ORDER BY started_at, campaign_id`), tenantID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Meta
	for rows.Next() {
		var m Meta
		if err := rows.Scan(&m.CampaignID, &m.TenantID, &m.Source, &m.Subject, &m.StartedAt, &m.CancelledAt); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// setCancelled moves an item that is still open (staged or published) to
// "cancelled"; iupd, when not empty, records the position invalidated.
func (s *Store) setCancelled(ctx context.Context, campaignID string, seq int, iupd string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE campaign_items SET state = ?, iupd = COALESCE(NULLIF(?, ''), iupd), updated_at = ?
		WHERE campaign_id = ? AND seq = ? AND state IN (?, ?)`), StateCancelled, iupd, now(), campaignID, seq, StateStaged, StatePublished)
	return err
}

// setCancelError records why an item's position could not be invalidated.
func (s *Store) setCancelError(ctx context.Context, campaignID string, seq int, errText string) error {
	_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE campaign_items SET position_error = ?, updated_at = ?
		WHERE campaign_id = ? AND seq = ?`), "cancel: "+errText, now(), campaignID, seq)
	return err
}

// RecordCampaign remembers the campaign's tenant and source (see Meta).
func (a *Activities) RecordCampaign(ctx context.Context, in Input) error {
	if _, err := a.tenant(in.TenantID); err != nil {
		return err
	}
	if err := a.Store.RecordMeta(ctx, Meta{CampaignID: in.CampaignID, TenantID: in.TenantID, Source: in.Source, Subject: in.Subject}); err != nil {
		if errors.Is(err, ErrNoMeta) {
			return err
		}
		return wfkit.BadInput("%v", err)
	}
	return nil
}

// CancelBatch invalidates the GPD debt positions of the batch's items that
// are not paid, and moves every open item to "cancelled". Paid positions are
// left alone and counted. Running it again finds the work done: GPD answers
// an invalidate of an INVALID position without error, and cancelled items
// are skipped.
func (a *Activities) CancelBatch(ctx context.Context, b BatchInput) (CancelResult, error) {
	t, err := a.tenant(b.TenantID)
	if err != nil {
		return CancelResult{}, err
	}
	gpd, err := a.conns().GPD(t)
	if err != nil {
		return CancelResult{}, err
	}
	items, err := a.Store.Items(ctx, b.CampaignID, b.From, b.To)
	if err != nil {
		return CancelResult{}, err
	}
	var (
		mu      sync.Mutex
		res     CancelResult
		retries wfkit.Retries
	)
	_ = wfkit.ForEach(ctx, a.conc(), items, func(it Item) { // items not started are retried
		iupd := it.IUPD
		if iupd == "" {
			iupd = IUPD(t.ID, b.CampaignID, it.Seq)
		}
		outcome, errText, err := a.cancelOne(ctx, t.FiscalCode, gpd, it, iupd)
		if err == nil {
			switch outcome {
			case cancelInvalidated:
				err = a.Store.setCancelled(ctx, b.CampaignID, it.Seq, iupd)
			case cancelNotCreated:
				err = a.Store.setCancelled(ctx, b.CampaignID, it.Seq, "")
			case cancelFailed:
				err = a.Store.setCancelError(ctx, b.CampaignID, it.Seq, errText)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			retries.Add(fmt.Sprintf("line %d (%s)", it.Line, it.IUPD), err)
			return
		}
		switch outcome {
		case cancelInvalidated:
			res.Invalidated++
		case cancelNotCreated:
			res.NotCreated++
		case cancelPaidKept:
			res.PaidKept++
		case cancelFailed:
			res.Failed++
		default:
			res.Skipped++
		}
		activity.RecordHeartbeat(ctx, res)
	})
	if err := retries.Err("debt positions to invalidate", len(items)); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

const (
	cancelSkipped = iota
	cancelInvalidated
	cancelNotCreated
	cancelPaidKept
	cancelFailed
)

// cancelOne decides an item's cancel outcome; an error means retry. A staged
// item is checked on GPD too: an attempt that died after GPD created its
// position but before the store recorded it leaves exactly that case.
func (a *Activities) cancelOne(ctx context.Context, org string, gpd *pagopa.GPDClient, it Item, iupd string) (int, string, error) {
	if it.State != StateStaged && it.State != StatePublished {
		return cancelSkipped, "", nil // position_failed or already cancelled
	}
	_, err := gpd.Invalidate(ctx, org, iupd)
	switch {
	case err == nil:
		return cancelInvalidated, "", nil
	case failure.IsRetryable(err):
		return 0, "", err
	case pagopa.IsNotFound(err) && it.State == StateStaged:
		return cancelNotCreated, "", nil
	case pagopa.IsNotFound(err):
		// Nothing on GPD to invalidate (deleted by hand in the back office).
		return cancelInvalidated, "", nil
	}
	cur, gerr := gpd.Get(ctx, org, iupd)
	if gerr != nil {
		if failure.IsRetryable(gerr) {
			return 0, "", gerr
		}
		return cancelFailed, err.Error(), nil
	}
	switch cur.Status {
	case pagopa.StatusPaid, pagopa.StatusPartiallyPaid, pagopa.StatusReported:
		return cancelPaidKept, "", nil
	case pagopa.StatusInvalid, pagopa.StatusExpired:
		return cancelInvalidated, "", nil
	}
	return cancelFailed, err.Error(), nil
}

// FinishCancel marks the campaign cancelled and returns its cancel counts
// from the state store, which are the truth after retried batches.
func (a *Activities) FinishCancel(ctx context.Context, campaignID string) (CancelResult, error) {
	if _, err := a.Store.db.ExecContext(ctx, a.Store.db.Rebind(`UPDATE campaign_meta SET cancelled_at = ?
		WHERE campaign_id = ? AND cancelled_at = ''`), now(), campaignID); err != nil {
		return CancelResult{}, err
	}
	return a.Store.CancelCounts(ctx, campaignID)
}

// CancelCounts counts a cancelled campaign's items by cancel outcome.
func (s *Store) CancelCounts(ctx context.Context, campaignID string) (CancelResult, error) {
	var r CancelResult
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT state, iupd = '', position_error LIKE 'cancel: %', COUNT(*)
		FROM campaign_items WHERE campaign_id = ? GROUP BY 1, 2, 3`), campaignID)
	if err != nil {
		return r, err
	}
	defer rows.Close()
	for rows.Next() {
		var st string
		var noPos, cancelErr bool
		var n int
		if err := rows.Scan(&st, &noPos, &cancelErr, &n); err != nil {
			return r, err
		}
		switch {
		case st == StateCancelled && noPos:
			r.NotCreated += n
		case st == StateCancelled:
			r.Invalidated += n
		case st == StatePublished && cancelErr:
			r.Failed += n
		case st == StatePublished:
			r.PaidKept += n
		default:
			r.Skipped += n
		}
	}
	return r, rows.Err()
}
