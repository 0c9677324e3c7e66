// Package reconcile matches pagoPA receipts to the debt positions of payment
// campaigns: it fetches the receipts of positions still unpaid from GPD, takes
// the receipts the Nodo pushed with paSendRTV2 (stored by nodo.ReceiptBackend),
// marks items paid or partially paid, writes the paid status back through the
// source's sink, reports anomalies (unknown IUV, amount mismatch, duplicate
// payment) instead of failing, and writes a daily report. Work is batched
// inside activities; a run changes nothing when run again.
package reconcile

import (
	"time"

	"github.com/ponte-pa/ponte/internal/wfkit"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// Names shared by the workflow, the workers and the CLI.
const (
	WorkflowName = "Reconcile"
	// The workflow runs on the campaign workflows' queue; its activities on
	// the pagoPA queue (GPD calls) and the legacy queue (store, sinks).
	QueueWorkflows = campaign.QueueWorkflows
	QueuePagoPA    = campaign.QueuePagoPA
	QueueLegacy    = campaign.QueueLegacy

	QueryProgress = "progress"

	// ErrBadInput is the error type of failures no retry can fix.
	ErrBadInput = wfkit.ErrBadInput
)

// Anomaly kinds. An anomaly is reported, never fatal: the run goes on.
const (
	AnomalyUnknownIUV      = "unknown_iuv"       // receipt for an IUV no campaign of the tenant issued
	AnomalyAmountMismatch  = "amount_mismatch"   // one receipt, amount different from the amount due
	AnomalyDuplicate       = "duplicate_payment" // a second receipt for an IUV already paid
	AnomalyPaidAfterCancel = "paid_after_cancel" // receipt for a position the campaign cancelled
)

// Input starts a reconciliation of one tenant.
type Input struct {
	TenantID string
	// CampaignID limits fetching, write-back and the report to one campaign;
	// empty means every campaign of the tenant. Receipts are always matched
	// tenant-wide, so that a receipt of another campaign is never taken for
	// an unknown IUV.
	CampaignID string
	// Every > 0 makes the workflow run, sleep Every and continue as new, for
	// ever (a daily reconciliation); 0 runs once.
	Every time.Duration
	// BatchSize is the number of open positions per fetch activity (default
	// 500), Parallel the fetch activities in flight (default 4).
	BatchSize int
	Parallel  int
}

func (in *Input) defaults() {
	if in.BatchSize <= 0 {
		in.BatchSize = 500
	}
	if in.Parallel <= 0 {
		in.Parallel = 4
	}
}

// WorkflowID is the id of a run-once reconciliation of a tenant: one at a
// time per tenant.
func WorkflowID(tenantID string) string { return "reconcile/" + tenantID }

// PeriodicWorkflowID is the id of a tenant's periodic reconciliation.
func PeriodicWorkflowID(tenantID string) string { return "reconcile/" + tenantID + "/periodic" }

// Plan is what one run works on.
type Plan struct {
	Date   string // YYYY-MM-DD, Europe/Rome: the day the run reports on
	Org    string // the tenant's fiscal code (GPD organization)
	Ranges []Range
	Open   int // positions still unpaid, to check on GPD
}

// Range is a batch of open items of one campaign: seq in [From, To).
type Range struct {
	CampaignID string
	From, To   int
}

// FetchInput is one fetch batch.
type FetchInput struct {
	TenantID string
	Range    Range
}

// FetchResult counts what one fetch batch found on GPD.
type FetchResult struct {
	Checked int // open positions asked for a receipt
	Found   int // receipts GPD has for them
	New     int // receipts not stored before
}

// StepInput names the tenant, campaign filter and day of the run for the
// match, write-back and report steps.
type StepInput struct {
	TenantID   string
	CampaignID string
	Date       string
}

// MatchResult counts what matching the stored, not yet matched receipts did.
type MatchResult struct {
	Receipts     int // receipts examined
	Matched      int // matched to a campaign item
	KO           int // negative outcomes, ignored
	NewlyPaid    int // items that became paid in this run
	NewlyPartial int // items that became partially paid in this run
	Anomalies    int // anomalies found in this run
}

// WriteBackResult counts the status updates sent to the legacy sinks.
type WriteBackResult struct {
	Written int // paid statuses written
	Failed  int // refused by the sink: retried at the next run
	NoSink  int // paid items whose source has no sink (or no external id)
	Held    int // partially paid: not written back, for an operator to check
}

// ReportResult is where the daily report went and its totals.
type ReportResult struct {
	CSV, JSON string
	Totals    DailyTotals
}

// Result is the workflow's result and the answer to the progress query.
type Result struct {
	TenantID   string
	CampaignID string
	Date       string
	Phase      string // planning, fetching, matching, writing-back, reporting, done
	Open       int    // positions unpaid at the start of the run
	Fetch      FetchResult
	Match      MatchResult
	WriteBack  WriteBackResult
	Report     ReportResult
}
