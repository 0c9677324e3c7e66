package reconcile

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/internal/wfkit"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// Activities are the reconciliation steps; one value serves every worker
// of the process and is safe for concurrent use.
type Activities struct {
	Tenants wfkit.TenantLookup
	Store   *Store
	// ReportDir receives the daily reports, under one directory per tenant.
	ReportDir string
	// Conns opens the connectors (GPD, sinks); nil means a default set
	// with Concurrency.
	Conns *wfkit.Connectors
	// Concurrency is the number of GPD calls one fetch batch makes at once
	// (default 8), when Conns is nil.
	Concurrency int
	// Now is the clock of the report date; time.Now when nil.
	Now func() time.Time
	// Metrics counts new anomalies (nil counts nothing).
	Metrics *metrics.Metrics

	connsOnce sync.Once
}

func (a *Activities) conns() *wfkit.Connectors {
	a.connsOnce.Do(func() {
		if a.Conns == nil {
			a.Conns = &wfkit.Connectors{Concurrency: a.Concurrency}
		}
	})
	return a.Conns
}

func (a *Activities) tenant(id string) (*tenant.Tenant, error) { return a.Tenants.Get(id) }

func (a *Activities) now() time.Time {
	if a.Now != nil {
		return a.Now()
	}
	return time.Now()
}

// day is the calendar day of t in Rome, where the comuni are.
func day(t time.Time) string { return rome.Day(t) }

// scope returns the campaigns a run works on: one, or all of the tenant's.
func (a *Activities) scope(ctx context.Context, t *tenant.Tenant, campaignID string) ([]campaign.Meta, error) {
	cs := a.Store.Campaigns
	if campaignID == "" {
		return cs.Campaigns(ctx, t.ID)
	}
	m, err := cs.Meta(ctx, campaignID)
	if errors.Is(err, campaign.ErrNoMeta) {
		// A campaign started before campaigns were recorded: accept it when
		// its debt positions carry the tenant's IUPDs.
		items, ierr := cs.Items(ctx, campaignID, 0, 50)
		if ierr != nil {
			return nil, ierr
		}
		for _, it := range items {
			if it.IUPD != "" {
				if it.IUPD != campaign.IUPD(t.ID, campaignID, it.Seq) {
					return nil, wfkit.BadInput("campaign %q is not a campaign of tenant %q", campaignID, t.ID)
				}
				return []campaign.Meta{{CampaignID: campaignID, TenantID: t.ID}}, nil
			}
		}
		return nil, wfkit.BadInput("no campaign %q with debt positions in the state store %s", campaignID, a.Store.db.Where)
	}
	if err != nil {
		return nil, err
	}
	if m.TenantID != t.ID {
		return nil, wfkit.BadInput("campaign %q belongs to tenant %q, not %q", campaignID, m.TenantID, t.ID)
	}
	return []campaign.Meta{m}, nil
}

// openSeqs lists the items of a campaign with a payable position and no
// full payment yet, with seq in [from, to).
func (s *Store) openSeqs(ctx context.Context, campaignID string, from, to int) ([]int, error) {
	published, err := s.Campaigns.PublishedSeqs(ctx, campaignID, from, to)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.QueryContext(ctx, s.db.Rebind(`SELECT seq FROM campaign_payments
		WHERE campaign_id = ? AND seq >= ? AND seq < ? AND state = ?`), campaignID, from, to, campaign.StatusPaid)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	paid := map[int]bool{}
	for rows.Next() {
		var n int
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		paid[n] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := published[:0]
	for _, n := range published {
		if !paid[n] {
			out = append(out, n)
		}
	}
	return out, nil
}

// maxSeq is above every item's seq: campaign_items.seq is an INTEGER, 32
// bits on PostgreSQL, which refuses a larger parameter.
const maxSeq = math.MaxInt32

// PlanReconcile picks the day of the run and splits the open positions of
// the campaigns in scope into batches.
func (a *Activities) PlanReconcile(ctx context.Context, in Input) (Plan, error) {
	in.defaults()
	t, err := a.tenant(in.TenantID)
	if err != nil {
		return Plan{}, err
	}
	metas, err := a.scope(ctx, t, in.CampaignID)
	if err != nil {
		return Plan{}, err
	}
	p := Plan{Date: day(a.now()), Org: t.FiscalCode, Ranges: []Range{}}
	for _, m := range metas {
		seqs, err := a.Store.openSeqs(ctx, m.CampaignID, 0, maxSeq)
		if err != nil {
			return Plan{}, err
		}
		p.Open += len(seqs)
		for i := 0; i < len(seqs); i += in.BatchSize {
			j := min(i+in.BatchSize, len(seqs))
			p.Ranges = append(p.Ranges, Range{CampaignID: m.CampaignID, From: seqs[i], To: seqs[j-1] + 1})
		}
	}
	return p, nil
}

// FetchReceipts asks GPD for the receipt of every open position of the
// batch and stores those it has. A receipt GPD cannot give in good shape is
// logged and counted, not fatal: the next run asks again.
func (a *Activities) FetchReceipts(ctx context.Context, in FetchInput) (FetchResult, error) {
	t, err := a.tenant(in.TenantID)
	if err != nil {
		return FetchResult{}, err
	}
	gpd, err := a.conns().GPD(t)
	if err != nil {
		return FetchResult{}, err
	}
	seqs, err := a.Store.openSeqs(ctx, in.Range.CampaignID, in.Range.From, in.Range.To)
	if err != nil {
		return FetchResult{}, err
	}
	items, err := a.Store.Campaigns.Items(ctx, in.Range.CampaignID, in.Range.From, in.Range.To)
	if err != nil {
		return FetchResult{}, err
	}
	open := map[int]bool{}
	for _, s := range seqs {
		open[s] = true
	}
	// Every open item's single payment, and its rate when it has some.
	var todo []campaign.Item
	for _, it := range items {
		if open[it.Seq] {
			todo = append(todo, it)
			for _, r := range it.Rate {
				rt := it
				rt.IUV, rt.NAV, rt.Rate = r.IUV, r.NAV, nil
				todo = append(todo, rt)
			}
		}
	}
	var (
		mu      sync.Mutex
		res     FetchResult
		retries wfkit.Retries
	)
	log := wfkit.ActivityLogger(ctx, t.ID)
	_ = wfkit.ForEach(ctx, a.conns().Conc(), todo, func(it campaign.Item) { // items not started are retried
		r, err := gpd.GetReceipt(ctx, t.FiscalCode, it.IUV)
		isNew := false
		if err == nil {
			isNew, err = a.Store.RecordReceipt(ctx, *r)
		}
		mu.Lock()
		defer mu.Unlock()
		res.Checked++
		switch {
		case err == nil:
			res.Found++
			if isNew {
				res.New++
			}
		case pagopa.IsNotFound(err):
		case failure.IsRetryable(err):
			retries.Add("IUV "+it.IUV, err) // GPD, or the state store
		default:
			log.Warn("receipt not usable; asked again at the next run", "iuv", it.IUV, "error", err)
		}
		activity.RecordHeartbeat(ctx, res.Checked)
	})
	if err := retries.Err("receipts to fetch", len(todo)); err != nil {
		return res, err
	}
	return res, ctx.Err()
}

// tenantItem is a campaign item of the tenant, as matching needs it.
type tenantItem struct {
	CampaignID  string
	Seq         int
	IUV         string
	AmountCents int64
	State       string
}

// itemsByIUV finds the tenant's campaign items with the given IUVs. An item
// belongs to the tenant when its IUPD is the one the tenant's campaign gives
// it, which no other tenant can have.
func (a *Activities) itemsByIUV(ctx context.Context, tenantID string, iuvs []string) (map[string]tenantItem, error) {
	out := map[string]tenantItem{}
	refs, err := a.Store.Campaigns.ItemsByIUV(ctx, iuvs)
	if err != nil {
		return nil, err
	}
	for _, r := range refs {
		if r.IUPD == campaign.IUPD(tenantID, r.CampaignID, r.Seq) {
			out[r.IUV] = tenantItem{CampaignID: r.CampaignID, Seq: r.Seq, IUV: r.IUV, AmountCents: r.AmountCents, State: r.State}
		}
	}
	// IUVs of rate belong to the item whose position holds them.
	var rest []string
	for _, iuv := range iuvs {
		if _, ok := out[iuv]; !ok {
			rest = append(rest, iuv)
		}
	}
	if len(rest) == 0 {
		return out, nil
	}
	owners, err := a.Store.Campaigns.RataByIUV(ctx, rest)
	if err != nil {
		return nil, err
	}
	for iuv, o := range owners {
		items, err := a.Store.Campaigns.Items(ctx, o.CampaignID, o.Seq, o.Seq+1)
		if err != nil {
			return nil, err
		}
		if len(items) == 1 && items[0].IUPD == campaign.IUPD(tenantID, o.CampaignID, o.Seq) {
			it := items[0]
			out[iuv] = tenantItem{CampaignID: o.CampaignID, Seq: o.Seq, IUV: it.IUV, AmountCents: it.AmountCents, State: it.State}
		}
	}
	return out, nil
}

// MatchReceipts matches every stored receipt of the tenant not matched yet
// (fetched from GPD or pushed by the Nodo) to its campaign item, recomputes
// the payment of the items touched and records anomalies. Receipts are
// matched once; running it again finds nothing to do.
func (a *Activities) MatchReceipts(ctx context.Context, in StepInput) (MatchResult, error) {
	t, err := a.tenant(in.TenantID)
	if err != nil {
		return MatchResult{}, err
	}
	s := a.Store
	rs, err := s.receipts(ctx, `org = ? AND match_state = ?`, t.FiscalCode, matchNone)
	if err != nil || len(rs) == 0 {
		return MatchResult{}, err
	}
	seen := map[string]bool{}
	var iuvs []string
	for _, r := range rs {
		if !seen[r.IUV] {
			seen[r.IUV] = true
			iuvs = append(iuvs, r.IUV)
		}
	}
	items, err := a.itemsByIUV(ctx, t.ID, iuvs)
	if err != nil {
		return MatchResult{}, err
	}
	res := MatchResult{Receipts: len(rs)}
	type key struct {
		cid string
		seq int
	}
	touched := map[key]tenantItem{}
	setMatch := func(r StoredReceipt, state, cid string, seq int) error {
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE payment_receipts SET match_state = ?, campaign_id = ?, seq = ?,
			matched_on = ? WHERE org = ? AND receipt_id = ? AND match_state = ?`), state, cid, seq, in.Date, r.Org, r.ReceiptID, matchNone)
		return err
	}
	for i, r := range rs {
		it, known := items[r.IUV]
		switch {
		case r.Outcome != "OK":
			res.KO++
			err = setMatch(r, matchKO, "", -1)
		case !known:
			var isNew bool
			isNew, err = s.addAnomaly(ctx, Anomaly{Org: r.Org, Kind: AnomalyUnknownIUV, ReceiptID: r.ReceiptID, IUV: r.IUV, Seq: -1,
				PaidCents: r.AmountCents, FoundOn: in.Date,
				DetailIT: fmt.Sprintf("Ricevuta %s di € %s per lo IUV %s, che nessuna campagna dell'ente ha emesso: verificare e, se il caso, rimborsare.", r.ReceiptID, euro(r.AmountCents), r.IUV),
				DetailEN: fmt.Sprintf("Receipt %s of € %s for IUV %s, which no campaign of the ente issued: check it and refund if needed.", r.ReceiptID, euro(r.AmountCents), r.IUV)})
			if err == nil {
				if isNew {
					res.Anomalies++
					a.Metrics.Anomaly(t.ID, AnomalyUnknownIUV)
				}
				err = setMatch(r, matchAnomaly, "", -1)
			}
		default:
			res.Matched++
			touched[key{it.CampaignID, it.Seq}] = it
			err = setMatch(r, matchMatched, it.CampaignID, it.Seq)
		}
		if err != nil {
			return res, err
		}
		if i%200 == 0 {
			activity.RecordHeartbeat(ctx, i)
		}
	}
	// Whether a campaign offers rate, asked once per campaign.
	hasRate := map[string]bool{}
	rated := func(cid string) (bool, error) {
		if v, ok := hasRate[cid]; ok {
			return v, nil
		}
		v, err := s.Campaigns.HasRate(ctx, cid)
		hasRate[cid] = v
		return v, err
	}
	keys := make([]key, 0, len(touched))
	for k := range touched {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		return keys[i].cid < keys[j].cid || keys[i].cid == keys[j].cid && keys[i].seq < keys[j].seq
	})
	for _, k := range keys {
		newly, anomalies, err := a.settle(ctx, t, in.Date, touched[k], rated)
		if err != nil {
			return res, err
		}
		res.Anomalies += anomalies
		switch newly {
		case campaign.StatusPaid:
			res.NewlyPaid++
		case campaign.StatusPartiallyPaid:
			res.NewlyPartial++
		}
	}
	return res, nil
}

// rateOf is the installments of an item's position (none for a single
// payment).
func (a *Activities) rateOf(ctx context.Context, it tenantItem) ([]campaign.Rata, error) {
	items, err := a.Store.Campaigns.Items(ctx, it.CampaignID, it.Seq, it.Seq+1)
	if err != nil || len(items) != 1 {
		return nil, err
	}
	return items[0].Rate, nil
}

// rataAnomalies checks the receipts of a position offered in rate: each
// IUV paid at most once and for its own amount, and no more paid in all
// than the amount due (the single payment and a rata both paid).
func rataAnomalies(base Anomaly, rs []StoredReceipt, it tenantItem, rate []campaign.Rata, paid int64) []Anomaly {
	expected := map[string]int64{it.IUV: it.AmountCents}
	for _, r := range rate {
		expected[r.IUV] = r.AmountCents
	}
	var found []Anomaly
	first := map[string]string{}
	for _, r := range rs {
		an := base
		an.IUV, an.ReceiptID, an.PaidCents, an.ExpectedCents = r.IUV, r.ReceiptID, r.AmountCents, expected[r.IUV]
		switch prev, dup := first[r.IUV]; {
		case dup:
			an.Kind = AnomalyDuplicate
			an.DetailIT = fmt.Sprintf("Pagamento duplicato: la ricevuta %s (€ %s) ripete %s per lo IUV %s: rimborsare.", r.ReceiptID, euro(r.AmountCents), prev, r.IUV)
			an.DetailEN = fmt.Sprintf("Duplicate payment: receipt %s (€ %s) repeats %s for IUV %s: refund it.", r.ReceiptID, euro(r.AmountCents), prev, r.IUV)
			found = append(found, an)
			continue
		case r.AmountCents != expected[r.IUV]:
			an.Kind = AnomalyAmountMismatch
			an.DetailIT = fmt.Sprintf("Importo diverso: la ricevuta %s per lo IUV %s è di € %s, il dovuto è € %s.", r.ReceiptID, r.IUV, euro(r.AmountCents), euro(expected[r.IUV]))
			an.DetailEN = fmt.Sprintf("Amount mismatch: receipt %s for IUV %s is € %s, the amount due is € %s.", r.ReceiptID, r.IUV, euro(r.AmountCents), euro(expected[r.IUV]))
			found = append(found, an)
		}
		first[r.IUV] = r.ReceiptID
	}
	if len(found) == 0 && paid > it.AmountCents {
		last := rs[len(rs)-1]
		an := base
		an.Kind, an.ReceiptID, an.PaidCents = AnomalyDuplicate, last.ReceiptID, paid
		an.DetailIT = fmt.Sprintf("Pagamento in eccesso: pagati € %s su € %s dovuti (unica soluzione e rate): rimborsare l'eccedenza.", euro(paid), euro(it.AmountCents))
		an.DetailEN = fmt.Sprintf("Overpayment: € %s paid of € %s due (single payment and rate): refund the excess.", euro(paid), euro(it.AmountCents))
		found = append(found, an)
	}
	return found
}

func euro(cents int64) string { return fmt.Sprintf("%d,%02d", cents/100, cents%100) }

// settle recomputes one item's payment from all its matched receipts and
// records the anomalies they show. It returns the item's new state when the
// state changed.
func (a *Activities) settle(ctx context.Context, t *tenant.Tenant, date string, it tenantItem, rated func(campaignID string) (bool, error)) (string, int, error) {
	org := t.FiscalCode
	s := a.Store
	rs, err := s.receipts(ctx, `org = ? AND match_state = ? AND campaign_id = ? AND seq = ? AND outcome = 'OK'`,
		org, matchMatched, it.CampaignID, it.Seq)
	if err != nil || len(rs) == 0 {
		return "", 0, err
	}
	var paid int64
	var last time.Time
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		paid += r.AmountCents
		ids = append(ids, r.ReceiptID)
		if r.PaymentDate.After(last) {
			last = r.PaymentDate
		}
	}
	state := campaign.StatusPaid
	if paid < it.AmountCents {
		state = campaign.StatusPartiallyPaid
	}
	var found []Anomaly
	base := Anomaly{Org: org, IUV: it.IUV, CampaignID: it.CampaignID, Seq: it.Seq, ExpectedCents: it.AmountCents, FoundOn: date}
	var rate []campaign.Rata
	withRate, err := rated(it.CampaignID)
	if err == nil && withRate {
		rate, err = a.rateOf(ctx, it)
	}
	if err != nil {
		return "", 0, err
	}
	if len(rate) > 0 {
		found = append(found, rataAnomalies(base, rs, it, rate, paid)...)
	} else if len(rs) > 1 {
		for _, r := range rs[1:] {
			an := base
			an.Kind, an.ReceiptID, an.PaidCents = AnomalyDuplicate, r.ReceiptID, r.AmountCents
			an.DetailIT = fmt.Sprintf("Pagamento duplicato: la ricevuta %s (€ %s) si aggiunge a %s per lo IUV %s; totale pagato € %s su € %s dovuti: rimborsare l'eccedenza.",
				r.ReceiptID, euro(r.AmountCents), rs[0].ReceiptID, it.IUV, euro(paid), euro(it.AmountCents))
			an.DetailEN = fmt.Sprintf("Duplicate payment: receipt %s (€ %s) comes on top of %s for IUV %s; € %s paid of € %s due: refund the excess.",
				r.ReceiptID, euro(r.AmountCents), rs[0].ReceiptID, it.IUV, euro(paid), euro(it.AmountCents))
			found = append(found, an)
		}
	} else if paid != it.AmountCents {
		an := base
		an.Kind, an.ReceiptID, an.PaidCents = AnomalyAmountMismatch, rs[0].ReceiptID, paid
		an.DetailIT = fmt.Sprintf("Importo diverso: la ricevuta %s per lo IUV %s è di € %s, il dovuto è € %s.", rs[0].ReceiptID, it.IUV, euro(paid), euro(it.AmountCents))
		an.DetailEN = fmt.Sprintf("Amount mismatch: receipt %s for IUV %s is € %s, the amount due is € %s.", rs[0].ReceiptID, it.IUV, euro(paid), euro(it.AmountCents))
		found = append(found, an)
	}
	if it.State == campaign.StateCancelled {
		for _, r := range rs {
			an := base
			an.Kind, an.ReceiptID, an.PaidCents = AnomalyPaidAfterCancel, r.ReceiptID, r.AmountCents
			an.DetailIT = fmt.Sprintf("Pagamento su posizione annullata: ricevuta %s per lo IUV %s della campagna annullata %s.", r.ReceiptID, it.IUV, it.CampaignID)
			an.DetailEN = fmt.Sprintf("Payment on a cancelled position: receipt %s for IUV %s of cancelled campaign %s.", r.ReceiptID, it.IUV, it.CampaignID)
			found = append(found, an)
		}
	}
	newAnomalies := 0
	for _, an := range found {
		isNew, err := s.addAnomaly(ctx, an)
		if err != nil {
			return "", 0, err
		}
		if isNew {
			newAnomalies++
			a.Metrics.Anomaly(t.ID, an.Kind)
		}
	}
	old, err := s.payments(ctx, `campaign_id = ? AND seq = ?`, it.CampaignID, it.Seq)
	if err != nil {
		return "", 0, err
	}
	joined := strings.Join(ids, ",")
	paidDate := day(last)
	if len(old) == 1 && old[0].State == state && old[0].PaidCents == paid && old[0].PaidDate == paidDate && strings.Join(old[0].ReceiptIDs, ",") == joined {
		return "", newAnomalies, nil
	}
	// A change of state reopens the write-back; a changed amount on a paid
	// item does not (the legacy system already knows it is paid).
	if _, err := s.db.ExecContext(ctx, s.db.Rebind(`INSERT INTO campaign_payments
		(campaign_id, seq, state, paid_cents, paid_date, receipt_ids, updated_on) VALUES (?,?,?,?,?,?,?)
		ON CONFLICT (campaign_id, seq) DO UPDATE SET
		wb_state = CASE WHEN campaign_payments.state = excluded.state THEN campaign_payments.wb_state ELSE '' END,
		state = excluded.state, paid_cents = excluded.paid_cents, paid_date = excluded.paid_date,
		receipt_ids = excluded.receipt_ids, updated_on = excluded.updated_on`),
		it.CampaignID, it.Seq, state, paid, paidDate, joined, date); err != nil {
		return "", 0, err
	}
	if len(old) == 1 && old[0].State == state {
		return "", newAnomalies, nil
	}
	return state, newAnomalies, nil
}

// WriteBackPayments writes the paid status of every paid item not written
// yet to the sink of its campaign's source. Partially paid items are held
// for an operator: telling the legacy system "paid" would close a debt that
// is still open. Updates a sink refuses are recorded and retried at the
// next run.
func (a *Activities) WriteBackPayments(ctx context.Context, in StepInput) (WriteBackResult, error) {
	t, err := a.tenant(in.TenantID)
	if err != nil {
		return WriteBackResult{}, err
	}
	metas, err := a.scope(ctx, t, in.CampaignID)
	if err != nil {
		return WriteBackResult{}, err
	}
	s := a.Store
	var res WriteBackResult
	setWB := func(cid string, seq int, state, errText string) error {
		_, err := s.db.ExecContext(ctx, s.db.Rebind(`UPDATE campaign_payments SET wb_state = ?, wb_error = ?, wb_on = ?
			WHERE campaign_id = ? AND seq = ?`), state, errText, in.Date, cid, seq)
		return err
	}
	for _, m := range metas {
		held, err := s.payments(ctx, `campaign_id = ? AND state = ?`, m.CampaignID, campaign.StatusPartiallyPaid)
		if err != nil {
			return res, err
		}
		res.Held += len(held)
		todo, err := s.payments(ctx, `campaign_id = ? AND state = ? AND wb_state <> ?`, m.CampaignID, campaign.StatusPaid, wbWritten)
		if err != nil || len(todo) == 0 {
			if err != nil {
				return res, err
			}
			continue
		}
		items, err := s.Campaigns.AllItems(ctx, m.CampaignID)
		if err != nil {
			return res, err
		}
		bySeq := make(map[int]campaign.Item, len(items))
		for _, it := range items {
			bySeq[it.Seq] = it
		}
		sink, reason := openSink(t, m)
		var ups []legacy.StatusUpdate
		seqOf := map[string]int{}
		for _, p := range todo {
			it := bySeq[p.Seq]
			why := reason
			if sink != nil && it.ExternalID == "" && !writesByKey(sink) {
				// Write-back finds the row by its id, or by its key columns
				// (a SQL writeBack with :key_<column>); a record known only by
				// its position or identity fields cannot be written to.
				why = "the source row " + it.Key + " has no external id to write back to: map externalId to the table's primary key (columns.externalId), or for a SQL source set keyColumns and find the row with :key_<column> in writeBack"
			}
			if sink == nil || why != "" {
				res.NoSink++
				if p.WBState != wbNoSink || p.WBError != why {
					if err := setWB(m.CampaignID, p.Seq, wbNoSink, why); err != nil {
						return res, err
					}
				}
				continue
			}
			u := legacy.StatusUpdate{ExternalID: it.ExternalID, Key: it.Key, Status: legacy.StatusPaid, IUPD: it.IUPD, NAV: it.NAV, IUV: it.IUV,
				PaidDate: p.PaidDate, AmountPaidCents: p.PaidCents,
				Message: "Pagamento riconciliato / Payment reconciled: " + strings.Join(p.ReceiptIDs, ", ")}
			if err := u.Validate(); err != nil {
				res.Failed++
				if err := setWB(m.CampaignID, p.Seq, wbFailed, err.Error()); err != nil {
					return res, err
				}
				continue
			}
			seqOf[u.ID()] = p.Seq
			ups = append(ups, u)
		}
		for i := 0; i < len(ups); i += 100 {
			chunk := ups[i:min(i+100, len(ups))]
			werr := sink.WriteStatus(ctx, chunk)
			var we *legacy.WriteError
			if werr != nil && !errors.As(werr, &we) {
				if !failure.IsPermanent(werr) {
					return res, wfkit.ActivityError(fmt.Errorf("writing %d paid statuses to %s: %w", len(chunk), sink.Name(), werr))
				}
				// Refused for good (credentials, a rejected request): every
				// update of the chunk is failed with the reason, and the
				// next run tries again once the cause is fixed.
				we = &legacy.WriteError{Sink: sink.Name(), Failed: map[string]error{}}
				for _, u := range chunk {
					we.Failed[u.ID()] = werr
				}
			}
			for _, u := range chunk {
				state, errText := wbWritten, ""
				if we != nil && we.Failed[u.ID()] != nil {
					state, errText = wbFailed, we.Failed[u.ID()].Error()
					res.Failed++
				} else {
					res.Written++
				}
				if err := setWB(m.CampaignID, seqOf[u.ID()], state, errText); err != nil {
					return res, err
				}
			}
			activity.RecordHeartbeat(ctx, res)
		}
	}
	return res, nil
}

// openSink opens the sink of the campaign's source, or says why there is none.
// writesByKey reports whether sink can find a record without an id by its
// key (legacy.KeyedSink).
func writesByKey(sink legacy.DebtorSink) bool {
	k, ok := sink.(legacy.KeyedSink)
	return ok && k.WritesByKey()
}

func openSink(t *tenant.Tenant, m campaign.Meta) (legacy.DebtorSink, string) {
	if m.Source == "" {
		return nil, "the campaign's source is not recorded (started before Ponte recorded it): write the status back by hand"
	}
	src, ok := t.Sources[m.Source]
	if !ok {
		return nil, fmt.Sprintf("tenant %s has no source %q any more", t.ID, m.Source)
	}
	sink, err := legacy.OpenSink(src.Kind, src.Config, t.Dir)
	if err != nil {
		var uk *legacy.UnknownKindError
		if errors.As(err, &uk) {
			return nil, fmt.Sprintf("source %q is of kind %s, which takes no status updates", m.Source, src.Kind)
		}
		return nil, fmt.Sprintf("source %q cannot take status updates: %v", m.Source, err)
	}
	return sink, ""
}
