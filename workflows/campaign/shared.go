// Package campaign is the payment-notice campaign: debtors from a comune's legacy
// source become pagoPA debt positions on GPD and App IO messages carrying the
// payment data. Debtors are processed in batches inside activities, so a
// campaign's history grows with the number of batches, not of debtors.
package campaign

import (
	"time"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/internal/wfkit"
)

// Names shared by the workflow, the workers and the CLI.
const (
	WorkflowName = "PaymentCampaign"
	// Task queues per concern, so that rate-limited connectors can be scaled
	// and throttled separately.
	QueueWorkflows = "ponte-campaign"
	QueueLegacy    = "ponte-legacy"
	QueuePagoPA    = "ponte-pagopa"
	QueueAppIO     = "ponte-appio"
	QueueChannels  = "ponte-channels"

	QueryProgress = "progress"
	SignalPause   = "pause"
	SignalResume  = "resume"
	// SignalCancel stops the campaign for good: no new work is issued, the
	// unpaid debt positions it created are invalidated on GPD, and the
	// workflow ends with Progress.Cancelled set.
	SignalCancel = "cancel"

	// ErrBadInput is the application error type of failures that no retry can
	// fix (bad config, missing source file): Temporal does not retry them.
	ErrBadInput = wfkit.ErrBadInput
)

// Input starts a campaign.
type Input struct {
	// CampaignID is the business id, unique per tenant (e.g. "tari-2026").
	// It keys every debt position (IUPD) and message, so starting the same
	// campaign twice never issues anything twice.
	CampaignID string
	TenantID   string
	// Source is the name of a legacy source in the tenant config.
	Source string
	// Subject of the debt position and the IO message, Italian and English.
	Subject   string
	SubjectEN string
	// DueDate (YYYY-MM-DD) overrides the per-debtor due date of the source.
	DueDate string
	// IOPurpose picks the tenant's App IO service (default "payments").
	IOPurpose string
	// BatchSize is the number of debtors per activity (default 100), and
	// Parallel the number of batches in flight (default 4).
	BatchSize int
	Parallel  int
	// Fallback for debtors App IO cannot reach: "email" (default: the notice
	// PDF by email when the tenant has a relay and the debtor an address,
	// else print), "print" (print batch only) or "none".
	Fallback string
	// ReminderDaysBefore lists reminders before the due date (e.g. 7, 1),
	// sent at ReminderHour (default 9) Rome time by RemindersWorkflow.
	ReminderDaysBefore []int
	ReminderHour       int
	// Installments, when set, let debtors pay in rate as well as in one
	// payment: each rata gets its own notice number (a payment option of
	// the same debt position), due date and share of the amount. DueDate is
	// then the due date of the single payment (default: the first rata's).
	Installments []Installment `json:",omitempty"`
	// AmountCents, when positive, is every debtor's amount instead of the
	// source's amount column; Description, when set, is every debt
	// position's description (remittance) instead of the source's.
	AmountCents int64  `json:",omitempty"`
	Description string `json:",omitempty"`
	// WindowsPerRun is how many windows of Parallel batches one workflow run
	// handles before it continues as new (default 100, about 6,000 history
	// events); Resume is what a continued run starts from (set by the
	// workflow itself).
	WindowsPerRun int     `json:",omitempty"`
	Resume        *Resume `json:",omitempty"`
	// IOMessage, when set, is the App IO text per language (templates with
	// the variables of appio.DefaultPaymentTemplates) instead of the built-in.
	IOMessage map[string]appio.TextPair `json:",omitempty"`
}

// WorkflowID is the Temporal workflow id of a campaign: one run per tenant and
// campaign id at a time.
func WorkflowID(tenantID, campaignID string) string {
	return "campaign/" + tenantID + "/" + campaignID
}

func (in *Input) defaults() {
	if in.IOPurpose == "" {
		in.IOPurpose = "payments"
	}
	if in.BatchSize <= 0 {
		in.BatchSize = 100
	}
	if in.Parallel <= 0 {
		in.Parallel = 4
	}
	if in.WindowsPerRun <= 0 {
		in.WindowsPerRun = 100
	}
}

// Resume carries a campaign into the next run after continue-as-new: the
// staging result, the first batch not started yet and the progress so far.
type Resume struct {
	Stage     StageResult
	NextBatch int
	Progress  Progress
}

// Installment is one rata of a campaign: when it is due and which share
// (percent) of each debtor's amount it asks for.
type Installment struct {
	DueDate string // YYYY-MM-DD
	Percent int
}

// splitAmount divides total by the installments' percentages in cents; the
// last rata takes the rounding remainder, so the parts always add up.
func splitAmount(total int64, ins []Installment) []int64 {
	out := make([]int64, len(ins))
	var sum int64
	for i, in := range ins {
		if i == len(ins)-1 {
			out[i] = total - sum
			break
		}
		out[i] = total * int64(in.Percent) / 100
		sum += out[i]
	}
	return out
}

// StageResult is what staging the source produced.
type StageResult struct {
	Read, Valid, Rejected int
}

// BatchInput names one batch of staged debtors: sequence numbers [From, To).
type BatchInput struct {
	CampaignID string
	TenantID   string
	From, To   int
	Subject    string
	SubjectEN  string
	DueDate    string
	IOPurpose  string
	Fallback   string                    // see Input.Fallback
	IOMessage  map[string]appio.TextPair `json:",omitempty"`
	// Installments: see Input.Installments.
	Installments []Installment `json:",omitempty"`
}

// BatchResult counts what one batch did. Counts are of items that reached a
// final state in this attempt; items done by an earlier attempt are Skipped.
type BatchResult struct {
	Done, Failed, Skipped int
	// IO outcomes (NotifyIO only).
	Sent, NotOnIO, NotAllowed, Unknown int
}

// Progress is the answer to the progress query and the workflow's result.
type Progress struct {
	Phase  string // staging, positions, messages, fallback, cancelling, done, cancelled
	Paused bool
	// CancelRequested is set when the cancel signal arrives; Cancelled when
	// the cancel is complete (the workflow's result then says so).
	CancelRequested    bool
	Cancelled          bool
	Read               int
	Valid              int
	Rejected           int
	Batches            int
	PositionBatches    int // finished
	MessageBatches     int // finished
	PositionsPublished int
	PositionsFailed    int
	MessagesSent       int
	NotOnIO            int
	SenderNotAllowed   int
	MessagesFailed     int
	MessagesUnknown    int
	// Fallback for debtors not reachable on App IO.
	EmailsSent   int
	EmailsFailed int
	NeedPrint    int // no email address or no relay: print and post
	// Outcome of a cancel: positions invalidated on GPD, positions already
	// paid (left alone), items that never had a position, and positions the
	// cancel could not invalidate (see the report's error column).
	PositionsInvalidated int
	CancelPaidKept       int
	CancelNotCreated     int
	CancelFailed         int
	StartedAt            time.Time
	FinishedAt           time.Time
	// RemindersWorkflowID is set when the campaign's reminders were handed
	// to their own workflow.
	RemindersWorkflowID string `json:",omitempty"`
}

// CancelResult counts what cancelling one batch (or a whole campaign) did.
type CancelResult struct {
	Invalidated int // unpaid positions invalidated on GPD (or already invalid)
	PaidKept    int // positions paid before the cancel: left alone
	NotCreated  int // items that had no debt position yet
	Failed      int // positions that could not be invalidated (error recorded)
	Skipped     int // items already in a final state (failed, cancelled)
}
