package campaign

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/legacy"
)

// Final statuses of a debtor in the campaign report. Every valid row has
// exactly one; every rejected source row is "rejected".
const (
	StatusPaid           = "paid"
	StatusPartiallyPaid  = "partially_paid"
	StatusUnpaid         = "unpaid" // debt position payable, no receipt yet
	StatusCancelled      = "cancelled"
	StatusPositionFailed = "position_failed"
	StatusPending        = "pending" // the campaign has not reached it (still running)
	StatusRejected       = "rejected"
)

// StatusLabels are the statuses as operators read them, Italian / English.
var StatusLabels = map[string]string{
	StatusPaid:           "pagato / paid",
	StatusPartiallyPaid:  "pagato in parte / partially paid",
	StatusUnpaid:         "da pagare / unpaid",
	StatusCancelled:      "annullato / cancelled",
	StatusPositionFailed: "posizione non creata / position not created",
	StatusPending:        "in lavorazione / pending",
	StatusRejected:       "riga scartata / row rejected",
}

// Channels a debtor was reached by.
const (
	ChannelIO    = "io"
	ChannelEmail = "email"
	ChannelPrint = "print"
	ChannelNone  = "none"
)

// Payment is what reconciliation found for one item (see workflows/reconcile).
type Payment struct {
	State      string // StatusPaid or StatusPartiallyPaid
	PaidCents  int64
	PaidDate   string // YYYY-MM-DD
	ReceiptIDs []string
}

// ReportRow is one debtor (valid source row) of the final report.
type ReportRow struct {
	Line        int    `json:"line"`
	ExternalID  string `json:"externalId,omitempty"`
	Key         string `json:"key,omitempty"` // the record's identity in its source (Item.Key)
	FiscalCode  string `json:"fiscalCode"`
	Name        string `json:"name"`
	AmountCents int64  `json:"amountCents"`
	NAV         string `json:"nav,omitempty"`
	IUPD        string `json:"iupd,omitempty"`
	Channel     string `json:"channel"`
	IOMessageID string `json:"ioMessageId,omitempty"`
	Status      string `json:"status"`
	PaidDate    string `json:"paidDate,omitempty"`
	PaidCents   int64  `json:"paidCents,omitempty"`
	Error       string `json:"error,omitempty"`
}

// RejectedRow is one source row that did not become a debtor.
type RejectedRow struct {
	Line   int             `json:"line"`
	Source string          `json:"source"`
	Key    string          `json:"key,omitempty"` // the row's key in its source, when the source knows one
	Errors []legacy.Reject `json:"errors"`
}

// ReportTotals add up: SourceRows = Valid + Rejected, and the debtors by
// status add up to Valid.
type ReportTotals struct {
	SourceRows      int            `json:"sourceRows"`
	Valid           int            `json:"valid"`
	Rejected        int            `json:"rejected"`
	ByStatus        map[string]int `json:"byStatus"`
	ByChannel       map[string]int `json:"byChannel"`
	AmountDueCents  int64          `json:"amountDueCents"`
	AmountPaidCents int64          `json:"amountPaidCents"`
}

// Report is the final report of a campaign.
type Report struct {
	CampaignID  string        `json:"campaignId"`
	TenantID    string        `json:"tenantId,omitempty"`
	Cancelled   bool          `json:"cancelled"`
	GeneratedAt time.Time     `json:"generatedAt"`
	Totals      ReportTotals  `json:"totals"`
	Debtors     []ReportRow   `json:"debtors"`
	Rejected    []RejectedRow `json:"rejected"`
}

// BuildReport reads a campaign's items and rejects from the store and joins
// the payments reconciliation found (by item seq; nil when none).
func (s *Store) BuildReport(ctx context.Context, campaignID string, payments map[int]Payment) (Report, error) {
	items, err := s.AllItems(ctx, campaignID)
	if err != nil {
		return Report{}, err
	}
	rejects, err := s.Rejects(ctx, campaignID)
	if err != nil {
		return Report{}, err
	}
	if len(items) == 0 && len(rejects) == 0 {
		return Report{}, fmt.Errorf("no campaign %q in the state store %s", campaignID, s.db.Where)
	}
	r := NewReport(campaignID, items, rejects, payments)
	if m, err := s.Meta(ctx, campaignID); err == nil {
		r.TenantID, r.Cancelled = m.TenantID, m.CancelledAt != ""
	}
	return r, r.Check()
}

// NewReport builds the report from items, rejects and payments.
func NewReport(campaignID string, items []Item, rejects []legacy.Reject, payments map[int]Payment) Report {
	r := Report{CampaignID: campaignID, GeneratedAt: time.Now().UTC().Truncate(time.Second),
		Totals: ReportTotals{ByStatus: map[string]int{}, ByChannel: map[string]int{}}}
	for _, it := range items {
		row := reportRow(it, payments[it.Seq])
		r.Debtors = append(r.Debtors, row)
		r.Totals.ByStatus[row.Status]++
		r.Totals.ByChannel[row.Channel]++
		r.Totals.AmountDueCents += it.AmountCents
		r.Totals.AmountPaidCents += row.PaidCents
	}
	byLine := map[int]*RejectedRow{}
	for _, rj := range rejects {
		rr := byLine[rj.Line]
		if rr == nil {
			rr = &RejectedRow{Line: rj.Line, Source: rj.Source, Key: rj.Key}
			byLine[rj.Line] = rr
		}
		rr.Errors = append(rr.Errors, rj)
	}
	for _, rr := range byLine {
		r.Rejected = append(r.Rejected, *rr)
	}
	sort.Slice(r.Rejected, func(i, j int) bool { return r.Rejected[i].Line < r.Rejected[j].Line })
	r.Totals.Valid, r.Totals.Rejected = len(r.Debtors), len(r.Rejected)
	r.Totals.SourceRows = r.Totals.Valid + r.Totals.Rejected
	if r.Debtors == nil {
		r.Debtors = []ReportRow{}
	}
	if r.Rejected == nil {
		r.Rejected = []RejectedRow{}
	}
	return r
}

func reportRow(it Item, pay Payment) ReportRow {
	row := ReportRow{Line: it.Line, ExternalID: it.ExternalID, Key: it.Key, FiscalCode: it.FiscalCode,
		Name: strings.TrimSpace(it.Name + " " + it.Surname), AmountCents: it.AmountCents,
		NAV: it.NAV, IUPD: it.IUPD, IOMessageID: it.IOMessageID, Channel: ChannelNone}
	switch {
	case it.IOState == IOSent:
		row.Channel = ChannelIO
	case it.FallbackState == FallbackSent:
		row.Channel = orText(it.FallbackChannel, ChannelEmail) // email, or another channel kind
	case it.FallbackState == FallbackNoAddress || it.FallbackState == FallbackNoChannel:
		row.Channel = ChannelPrint
	}
	switch {
	case pay.State == StatusPaid || pay.State == StatusPartiallyPaid:
		// A payment wins over every other state: money arrived, also on a
		// position cancelled afterwards.
		row.Status, row.PaidDate, row.PaidCents = pay.State, pay.PaidDate, pay.PaidCents
	case it.State == StateCancelled:
		row.Status = StatusCancelled
	case it.State == StatePositionFailed:
		row.Status = StatusPositionFailed
	case it.State == StatePublished:
		row.Status = StatusUnpaid
	default:
		row.Status = StatusPending
	}
	switch {
	case it.PositionError != "":
		row.Error = it.PositionError
	case it.IOState == IOFailed || it.IOState == IOUnknown || it.IOState == IOSending:
		row.Error = "App IO: " + orText(it.IOError, it.IOState)
	case it.FallbackState == FallbackFailed || it.FallbackState == FallbackUnknown || it.FallbackState == FallbackSending:
		row.Error = orText(it.FallbackChannel, "fallback") + ": " + orText(it.FallbackError, it.FallbackState)
	}
	if row.Status == StatusPartiallyPaid && row.Error == "" {
		row.Error = fmt.Sprintf("paid %s of %s", euro(row.PaidCents), euro(it.AmountCents))
	}
	return row
}

func orText(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func euro(cents int64) string { return fmt.Sprintf("%d.%02d", cents/100, cents%100) }

// Check verifies that the counts add up: every valid row in exactly one
// status and one channel, and valid + rejected = source rows.
func (r Report) Check() error {
	sum := func(m map[string]int) int {
		n := 0
		for _, v := range m {
			n += v
		}
		return n
	}
	t := r.Totals
	switch {
	case t.Valid+t.Rejected != t.SourceRows:
		return fmt.Errorf("campaign %s report: valid %d + rejected %d != source rows %d", r.CampaignID, t.Valid, t.Rejected, t.SourceRows)
	case sum(t.ByStatus) != t.Valid || len(r.Debtors) != t.Valid:
		return fmt.Errorf("campaign %s report: statuses add up to %d, valid rows are %d", r.CampaignID, sum(t.ByStatus), t.Valid)
	case sum(t.ByChannel) != t.Valid:
		return fmt.Errorf("campaign %s report: channels add up to %d, valid rows are %d", r.CampaignID, sum(t.ByChannel), t.Valid)
	case len(r.Rejected) != t.Rejected:
		return fmt.Errorf("campaign %s report: %d rejected rows listed, total says %d", r.CampaignID, len(r.Rejected), t.Rejected)
	}
	return nil
}

// WriteJSON writes the report as indented JSON.
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// ReportCSVHeader is the header row of the CSV report.
var ReportCSVHeader = []string{"line", "external_id", "record_key", "fiscal_code", "name", "amount", "nav", "iupd", "channel",
	"io_message_id", "status", "status_it_en", "paid_date", "paid_amount", "error"}

// WriteCSV writes one row per source row (debtors, then rejected rows) in
// source-line order; amounts in euro with a dot.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(ReportCSVHeader); err != nil {
		return err
	}
	type line struct {
		n   int
		rec []string
	}
	var lines []line
	for _, d := range r.Debtors {
		paid := ""
		if d.PaidCents > 0 {
			paid = euro(d.PaidCents)
		}
		lines = append(lines, line{d.Line, []string{strconv.Itoa(d.Line), d.ExternalID, d.Key, d.FiscalCode, d.Name, euro(d.AmountCents),
			d.NAV, d.IUPD, d.Channel, d.IOMessageID, d.Status, StatusLabels[d.Status], d.PaidDate, paid, d.Error}})
	}
	for _, rj := range r.Rejected {
		var msgs []string
		for _, e := range rj.Errors {
			msgs = append(msgs, fmt.Sprintf("%s %q: %s / %s", e.Field, e.Value, e.MessageIT, e.MessageEN))
		}
		lines = append(lines, line{rj.Line, []string{strconv.Itoa(rj.Line), "", rj.Key, "", "", "", "", "", ChannelNone, "",
			StatusRejected, StatusLabels[StatusRejected], "", "", strings.Join(msgs, "; ")}})
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].n < lines[j].n })
	for _, l := range lines {
		if err := cw.Write(l.rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
