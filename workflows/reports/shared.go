package reports

import "time"

// Names of the lifecycle workflow, its task queue, signal and query.
const (
	WorkflowName = "ReportLifecycle"
	Queue        = "ponte-reports"
	// SignalStatus carries a StatusSignal: a CRM that calls back by
	// webhook, or an operator (ponte reports status --state).
	SignalStatus = "status"
	// SignalPoll makes the workflow read its ticket now (a CRM's webhook
	// said something changed).
	SignalPoll = "poll"
	// QueryProgress returns the workflow's Progress.
	QueryProgress = "progress"
)

// WorkflowID is the id of report id's lifecycle workflow.
func WorkflowID(tenantID, id string) string { return "report:" + tenantID + ":" + id }

// Input starts a report's lifecycle.
type Input struct {
	TenantID string `json:"tenantId"`
	ReportID string `json:"reportId"`
	// Resume is the progress carried over by continue-as-new.
	Resume *Progress `json:"resume,omitempty"`
}

// StatusSignal is a state change told to the workflow.
type StatusSignal struct {
	State State  `json:"state"`
	Note  string `json:"note,omitempty"`
}

// Progress is what the workflow knows of its report.
type Progress struct {
	State  State  `json:"state"`
	Ticket string `json:"ticket,omitempty"` // the CRM's ticket id
	CRM    string `json:"crm,omitempty"`    // the CRM kind
	// Duplicates are open reports of the same category nearby, suggested
	// to the office (never merged automatically).
	Duplicates []string `json:"duplicates,omitempty"`
	// Escalated are the deadlines whose breach the supervisor was told
	// of: take_in_charge, resolve.
	Escalated []string       `json:"escalated,omitempty"`
	History   []HistoryEntry `json:"history,omitempty"`
	Polls     int            `json:"polls"`
	// TakeInChargeBy and ResolveBy are the SLA deadlines (zero: none).
	TakeInChargeBy time.Time `json:"takeInChargeBy,omitzero"`
	ResolveBy      time.Time `json:"resolveBy,omitzero"`
}

// HistoryEntry is one change of state.
type HistoryEntry struct {
	At     time.Time `json:"at"`
	State  State     `json:"state"`
	Note   string    `json:"note,omitempty"`
	Source string    `json:"source"` // crm, signal, workflow
}

// Deadlines named in Progress.Escalated and the outbox slots.
const (
	DeadlineTakeInCharge = "take_in_charge"
	DeadlineResolve      = "resolve"
)

// Closed says whether s ends the lifecycle.
func (s State) Closed() bool { return s.Status() == "closed" }

// rank orders the open states: a CRM's answer never moves a report back.
func (s State) rank() int {
	switch s {
	case StateReceived:
		return 0
	case StateForwarded:
		return 1
	case StateInCharge:
		return 2
	}
	return 3
}
