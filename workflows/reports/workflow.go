package reports

import (
	"slices"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// A run continues as new past maxHistory events or maxPolls polls of its
// own, so that months of polling keep the history bounded (variables for
// tests: the test environment keeps no history length).
var (
	maxHistory = 5000
	maxPolls   = 1000
)

// Workflow is a report's lifecycle: forward it to its category's CRM, then
// follow the ticket (polling Status, and StatusSignal from a webhook or an
// operator) until it is resolved, rejected or a duplicate. Every change
// of state is stored and told to the citizen once; a passed SLA deadline is
// told to the supervisor once. Deterministic: every I/O is an activity.
func Workflow(ctx workflow.Context, in Input) (Progress, error) {
	ao := workflow.ActivityOptions{TaskQueue: Queue, StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy: &temporal.RetryPolicy{InitialInterval: 10 * time.Second, BackoffCoefficient: 2, MaximumInterval: 30 * time.Minute}}
	actx := workflow.WithActivityOptions(ctx, ao)

	var p Progress
	var open OpenResult
	if in.Resume != nil {
		p = *in.Resume
	}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return p, nil }); err != nil {
		return p, err
	}
	if err := workflow.ExecuteActivity(actx, "ReportOpen", in).Get(ctx, &open); err != nil {
		return p, err
	}
	if in.Resume == nil {
		p.State, p.Duplicates = open.State, open.Duplicates
		p.TakeInChargeBy, p.ResolveBy = open.TakeInChargeBy, open.ResolveBy
	}
	move := func(st State, note, source string) error {
		if st == p.State || !st.Valid() {
			return nil
		}
		if err := workflow.ExecuteActivity(actx, "ReportSetState", SetStateInput{TenantID: in.TenantID, ReportID: in.ReportID, State: st, Note: note}).Get(ctx, nil); err != nil {
			return err
		}
		p.State = st
		p.History = append(p.History, HistoryEntry{At: workflow.Now(ctx), State: st, Note: note, Source: source})
		return workflow.ExecuteActivity(actx, "ReportNotify", NotifyInput{TenantID: in.TenantID, ReportID: in.ReportID, State: st, Note: note}).Get(ctx, nil)
	}
	if p.Ticket == "" && !p.State.Closed() {
		var fr ForwardResult
		if err := workflow.ExecuteActivity(actx, "ReportForward", in).Get(ctx, &fr); err != nil {
			return p, err
		}
		p.Ticket, p.CRM = fr.Ticket, fr.CRM
		if err := move(StateForwarded, "", "workflow"); err != nil {
			return p, err
		}
	}

	signals := workflow.GetSignalChannel(ctx, SignalStatus)
	pokes := workflow.GetSignalChannel(ctx, SignalPoll)
	polls := 0 // in this run
	for !p.State.Closed() {
		if polls >= maxPolls || workflow.GetInfo(ctx).GetCurrentHistoryLength() > maxHistory {
			resume := p
			return p, workflow.NewContinueAsNewError(ctx, WorkflowName, Input{TenantID: in.TenantID, ReportID: in.ReportID, Resume: &resume})
		}
		tctx, cancel := workflow.WithCancel(ctx)
		sel := workflow.NewSelector(ctx)
		var next *StatusSignal
		source := ""
		sel.AddReceive(signals, func(c workflow.ReceiveChannel, _ bool) {
			var s StatusSignal
			c.Receive(ctx, &s)
			next, source = &s, "signal"
		})
		poll := false
		sel.AddReceive(pokes, func(c workflow.ReceiveChannel, _ bool) {
			c.Receive(ctx, nil)
			poll = true
		})
		sel.AddFuture(workflow.NewTimer(tctx, open.Poll), func(workflow.Future) { poll = true })
		breach := ""
		deadline := func(name string, by time.Time, due bool) {
			if by.IsZero() || !due || slices.Contains(p.Escalated, name) {
				return
			}
			wait := max(by.Sub(workflow.Now(ctx)), 0)
			sel.AddFuture(workflow.NewTimer(tctx, wait), func(workflow.Future) { breach = name })
		}
		deadline(DeadlineTakeInCharge, p.TakeInChargeBy, p.State.rank() < StateInCharge.rank())
		deadline(DeadlineResolve, p.ResolveBy, true)
		sel.Select(ctx)
		cancel()
		switch {
		case next != nil:
			if err := move(next.State, next.Note, source); err != nil {
				return p, err
			}
		case breach != "":
			if err := workflow.ExecuteActivity(actx, "ReportEscalate", EscalateInput{TenantID: in.TenantID, ReportID: in.ReportID, Deadline: breach, State: p.State, Ticket: p.Ticket}).Get(ctx, nil); err != nil {
				return p, err
			}
			p.Escalated = append(p.Escalated, breach)
		case poll:
			p.Polls++
			polls++
			var st StatusResult
			if err := workflow.ExecuteActivity(actx, "ReportStatus", StatusInput{TenantID: in.TenantID, ReportID: in.ReportID, Ticket: p.Ticket}).Get(ctx, &st); err != nil {
				return p, err
			}
			if st.State.Closed() || st.State.rank() > p.State.rank() {
				if err := move(st.State, st.Note, "crm"); err != nil {
					return p, err
				}
			}
		}
	}
	return p, nil
}
