package reconcile

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/ponte-pa/ponte/internal/wfkit"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// DailyReport is the reconciliation report of one tenant (or one campaign)
// for one day: the receipts matched that day, the anomalies found that day,
// and the state of every item in scope. It is built from the state store
// only, so running the reconciliation again the same day writes the same
// report.
type DailyReport struct {
	TenantID   string       `json:"tenantId"`
	CampaignID string       `json:"campaignId,omitempty"`
	Date       string       `json:"date"`
	Totals     DailyTotals  `json:"totals"`
	Payments   []PaymentRow `json:"payments"`
	Anomalies  []Anomaly    `json:"anomalies"`
}

// DailyTotals: Items = Paid + PartiallyPaid + Unpaid + Cancelled + Other.
type DailyTotals struct {
	Campaigns       int            `json:"campaigns"`
	Items           int            `json:"items"`
	Paid            int            `json:"paid"`
	PartiallyPaid   int            `json:"partiallyPaid"`
	Unpaid          int            `json:"unpaid"`
	Cancelled       int            `json:"cancelled"`
	Other           int            `json:"other"` // position not created, or not reached yet
	AmountDueCents  int64          `json:"amountDueCents"`
	AmountPaidCents int64          `json:"amountPaidCents"`
	ReceiptsToday   int            `json:"receiptsToday"`
	AnomaliesToday  int            `json:"anomaliesToday"`
	AnomaliesByKind map[string]int `json:"anomaliesByKind"`
	WrittenBack     int            `json:"writtenBack"`       // paid statuses in the legacy system
	WriteBackFailed int            `json:"writeBackFailed"`   // refused by the sink, retried next run
	WriteBackNoSink int            `json:"writeBackNoSink"`   // paid, but no sink to write to
	WriteBackHeld   int            `json:"writeBackHeld"`     // partially paid: for an operator
	UnmatchedToday  int            `json:"unmatchedReceipts"` // receipts waiting for the next match
}

// PaymentRow is one receipt matched on the report's day.
type PaymentRow struct {
	ReceiptID       string `json:"receiptId"`
	Source          string `json:"source"` // gpd or nodo
	CampaignID      string `json:"campaignId"`
	Line            int    `json:"line"`
	ExternalID      string `json:"externalId,omitempty"`
	FiscalCode      string `json:"fiscalCode"`
	IUV             string `json:"iuv"`
	NAV             string `json:"nav"`
	AmountDueCents  int64  `json:"amountDueCents"`
	AmountPaidCents int64  `json:"amountPaidCents"`
	PaymentDate     string `json:"paymentDate"`
	Status          string `json:"status"`    // of the item: paid or partially_paid
	WriteBack       string `json:"writeBack"` // paid, failed, no_sink, or empty
}

// buildDailyReport builds the report of a tenant (campaignID empty: all its
// campaigns) for date from the state store.
func (a *Activities) buildDailyReport(ctx context.Context, tenantID, campaignID, date string) (DailyReport, error) {
	t, err := a.tenant(tenantID)
	if err != nil {
		return DailyReport{}, err
	}
	metas, err := a.scope(ctx, t, campaignID)
	if err != nil {
		return DailyReport{}, err
	}
	s := a.Store
	r := DailyReport{TenantID: t.ID, CampaignID: campaignID, Date: date, Payments: []PaymentRow{}, Anomalies: []Anomaly{},
		Totals: DailyTotals{Campaigns: len(metas), AnomaliesByKind: map[string]int{}}}
	inScope := map[string]bool{}
	items := map[string]map[int]campaign.Item{}
	wb := map[string]map[int]string{}
	for _, m := range metas {
		inScope[m.CampaignID] = true
		all, err := s.Campaigns.AllItems(ctx, m.CampaignID)
		if err != nil {
			return r, err
		}
		ps, err := s.payments(ctx, `campaign_id = ?`, m.CampaignID)
		if err != nil {
			return r, err
		}
		pays := map[int]campaign.Payment{}
		wb[m.CampaignID] = map[int]string{}
		for _, p := range ps {
			pays[p.Seq] = p.Payment
			wb[m.CampaignID][p.Seq] = p.WBState
			switch {
			case p.State == campaign.StatusPartiallyPaid:
				r.Totals.WriteBackHeld++
			case p.WBState == wbWritten:
				r.Totals.WrittenBack++
			case p.WBState == wbFailed:
				r.Totals.WriteBackFailed++
			case p.WBState == wbNoSink:
				r.Totals.WriteBackNoSink++
			}
		}
		rep := campaign.NewReport(m.CampaignID, all, nil, pays)
		st := rep.Totals.ByStatus
		r.Totals.Items += rep.Totals.Valid
		r.Totals.Paid += st[campaign.StatusPaid]
		r.Totals.PartiallyPaid += st[campaign.StatusPartiallyPaid]
		r.Totals.Unpaid += st[campaign.StatusUnpaid]
		r.Totals.Cancelled += st[campaign.StatusCancelled]
		r.Totals.Other += st[campaign.StatusPositionFailed] + st[campaign.StatusPending]
		r.Totals.AmountDueCents += rep.Totals.AmountDueCents
		r.Totals.AmountPaidCents += rep.Totals.AmountPaidCents
		bySeq := make(map[int]campaign.Item, len(all))
		for _, it := range all {
			bySeq[it.Seq] = it
		}
		items[m.CampaignID] = bySeq
	}
	matched, err := s.receipts(ctx, `org = ? AND match_state = ? AND matched_on = ?`, t.FiscalCode, matchMatched, date)
	if err != nil {
		return r, err
	}
	for _, rc := range matched {
		if !inScope[rc.CampaignID] {
			continue
		}
		it := items[rc.CampaignID][rc.Seq]
		status := campaign.StatusPaid
		pays, err := s.payments(ctx, `campaign_id = ? AND seq = ?`, rc.CampaignID, rc.Seq)
		if err != nil {
			return r, err
		}
		if len(pays) == 1 {
			status = pays[0].State
		}
		r.Payments = append(r.Payments, PaymentRow{ReceiptID: rc.ReceiptID, Source: rc.Source, CampaignID: rc.CampaignID,
			Line: it.Line, ExternalID: it.ExternalID, FiscalCode: it.FiscalCode, IUV: rc.IUV, NAV: rc.NAV,
			AmountDueCents: it.AmountCents, AmountPaidCents: rc.AmountCents, PaymentDate: day(rc.PaymentDate),
			Status: status, WriteBack: wb[rc.CampaignID][rc.Seq]})
	}
	r.Totals.ReceiptsToday = len(r.Payments)
	anomalies, err := s.Anomalies(ctx, t.FiscalCode)
	if err != nil {
		return r, err
	}
	for _, an := range anomalies {
		if an.FoundOn != date || (an.CampaignID != "" && !inScope[an.CampaignID]) {
			continue
		}
		if it, ok := items[an.CampaignID][an.Seq]; ok && an.Seq >= 0 {
			an.Line = it.Line
		}
		r.Anomalies = append(r.Anomalies, an)
		r.Totals.AnomaliesByKind[an.Kind]++
	}
	r.Totals.AnomaliesToday = len(r.Anomalies)
	unmatched, err := s.receipts(ctx, `org = ? AND match_state = ?`, t.FiscalCode, matchNone)
	if err != nil {
		return r, err
	}
	r.Totals.UnmatchedToday = len(unmatched)
	return r, nil
}

// Check verifies that the item totals add up.
func (r DailyReport) Check() error {
	t := r.Totals
	if sum := t.Paid + t.PartiallyPaid + t.Unpaid + t.Cancelled + t.Other; sum != t.Items {
		return fmt.Errorf("reconciliation report %s %s: statuses add up to %d, items are %d", r.TenantID, r.Date, sum, t.Items)
	}
	return nil
}

// WriteReconcileReport builds the day's report and writes it as CSV and
// JSON under ReportDir/<tenant>/.
func (a *Activities) WriteReconcileReport(ctx context.Context, in StepInput) (ReportResult, error) {
	r, err := a.buildDailyReport(ctx, in.TenantID, in.CampaignID, in.Date)
	if err != nil {
		return ReportResult{}, err
	}
	if err := r.Check(); err != nil {
		return ReportResult{}, err
	}
	if a.ReportDir == "" {
		return ReportResult{}, wfkit.BadInput("no report directory configured for reconciliation reports")
	}
	dir := filepath.Join(a.ReportDir, r.TenantID)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ReportResult{}, err
	}
	name := "reconcile-" + r.TenantID
	if r.CampaignID != "" {
		name += "-" + r.CampaignID
	}
	name += "-" + r.Date
	var js, cs bytes.Buffer
	if err := r.WriteJSON(&js); err != nil {
		return ReportResult{}, err
	}
	if err := r.WriteCSV(&cs); err != nil {
		return ReportResult{}, err
	}
	res := ReportResult{JSON: filepath.Join(dir, name+".json"), CSV: filepath.Join(dir, name+".csv"), Totals: r.Totals}
	if err := writeFile(res.JSON, js.Bytes()); err != nil {
		return ReportResult{}, err
	}
	if err := writeFile(res.CSV, cs.Bytes()); err != nil {
		return ReportResult{}, err
	}
	return res, nil
}

// writeFile replaces path atomically, so a reader never sees half a report.
func writeFile(path string, b []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// WriteJSON writes the report as indented JSON.
func (r DailyReport) WriteJSON(w *bytes.Buffer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// DailyCSVHeader is the header of the daily CSV report: one row per receipt
// matched that day ("payment") and per anomaly found that day ("anomaly").
var DailyCSVHeader = []string{"record", "date", "campaign_id", "line", "external_id", "fiscal_code", "iuv", "nav",
	"receipt_id", "source", "amount_due", "amount_paid", "payment_date", "status", "write_back", "anomaly", "detail_it", "detail_en"}

// WriteCSV writes the report's payments and anomalies.
func (r DailyReport) WriteCSV(w *bytes.Buffer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(DailyCSVHeader); err != nil {
		return err
	}
	dot := func(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }
	for _, p := range r.Payments {
		if err := cw.Write([]string{"payment", r.Date, p.CampaignID, strconv.Itoa(p.Line), p.ExternalID, p.FiscalCode, p.IUV, p.NAV,
			p.ReceiptID, p.Source, dot(p.AmountDueCents), dot(p.AmountPaidCents), p.PaymentDate, p.Status, p.WriteBack, "", "", ""}); err != nil {
			return err
		}
	}
	for _, an := range r.Anomalies {
		line := ""
		if an.Line > 0 {
			line = strconv.Itoa(an.Line)
		}
		if err := cw.Write([]string{"anomaly", r.Date, an.CampaignID, line, "", "", an.IUV, "", an.ReceiptID, "",
			dot(an.ExpectedCents), dot(an.PaidCents), "", "", "", an.Kind, an.DetailIT, an.DetailEN}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
