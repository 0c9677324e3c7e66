package campaign

import (
	"errors"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// a is only used for typed activity references; the worker registers a real
// *Activities.
var a *Activities

// Workflow runs one campaign: stage the source, then for each batch create and
// publish the debt positions and notify the debtors on App IO. It is thin and
// deterministic: all I/O is in the activities, all per-debtor state in the
// state store. A cancel signal stops it between steps and invalidates the
// unpaid positions it created.
func Workflow(ctx workflow.Context, in Input) (Progress, error) {
	in.defaults()
	p := Progress{Phase: "staging", StartedAt: workflow.Now(ctx)}
	if in.Resume != nil {
		p = in.Resume.Progress
	}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Progress, error) { return p, nil }); err != nil {
		return p, err
	}
	// Version 1 of "cancel" added the cancel signal and the campaign record
	// (tenant, source) that reconciliation reads; campaigns started before it
	// run as they did and ignore a cancel.
	cancellable := workflow.GetVersion(ctx, "cancel", workflow.DefaultVersion, 1) >= 1
	// Version 1 of "continue-as-new" hands a long campaign over to a fresh
	// run every WindowsPerRun windows, so that no history grows without bound.
	canContinue := workflow.GetVersion(ctx, "continue-as-new", workflow.DefaultVersion, 1) >= 1
	pauseCh := workflow.GetSignalChannel(ctx, SignalPause)
	resumeCh := workflow.GetSignalChannel(ctx, SignalResume)
	cancelCh := workflow.GetSignalChannel(ctx, SignalCancel)
	workflow.Go(ctx, func(ctx workflow.Context) {
		for {
			sel := workflow.NewSelector(ctx)
			sel.AddReceive(pauseCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); p.Paused = true })
			sel.AddReceive(resumeCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); p.Paused = false })
			if cancellable {
				sel.AddReceive(cancelCh, func(c workflow.ReceiveChannel, _ bool) { c.Receive(ctx, nil); p.CancelRequested = true })
			}
			sel.Select(ctx)
		}
	})
	stopped := func() bool { return p.CancelRequested }

	retry := &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{ErrBadInput},
	}
	stageCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue:           QueueLegacy,
		StartToCloseTimeout: 2 * time.Hour,
		HeartbeatTimeout:    30 * time.Second,
		RetryPolicy:         retry,
	})
	var st StageResult
	startBatch := 0
	if in.Resume != nil {
		// A run continued from an earlier one: staging is done.
		st, startBatch = in.Resume.Stage, in.Resume.NextBatch
	} else {
		if cancellable {
			if err := workflow.ExecuteActivity(stageCtx, a.RecordCampaign, in).Get(ctx, nil); err != nil {
				return p, err
			}
		}
		if err := workflow.ExecuteActivity(stageCtx, a.StageDebtors, in).Get(ctx, &st); err != nil {
			return p, err
		}
		p.Read, p.Valid, p.Rejected = st.Read, st.Valid, st.Rejected
		p.Batches = (st.Valid + in.BatchSize - 1) / in.BatchSize
	}

	batchOpts := func(queue string) workflow.Context {
		return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue:           queue,
			StartToCloseTimeout: 30 * time.Minute,
			// Short heartbeat timeout: a batch whose worker died is retried
			// within seconds, and resumes where it stopped (done items are
			// skipped through the state store).
			HeartbeatTimeout: 10 * time.Second,
			RetryPolicy:      retry,
		})
	}
	posCtx, ioCtx, chCtx := batchOpts(QueuePagoPA), batchOpts(QueueAppIO), batchOpts(QueueChannels)
	// Version 1 added the email fallback for debtors App IO cannot reach;
	// campaigns started before it finish without.
	emailFallback := workflow.GetVersion(ctx, "email-fallback", workflow.DefaultVersion, 1) >= 1

	window := func(first int) []BatchInput {
		last := min(first+in.Parallel, p.Batches)
		batches := make([]BatchInput, 0, last-first)
		for b := first; b < last; b++ {
			batches = append(batches, BatchInput{
				CampaignID: in.CampaignID, TenantID: in.TenantID,
				From: b * in.BatchSize, To: min((b+1)*in.BatchSize, st.Valid),
				Subject: in.Subject, SubjectEN: in.SubjectEN, DueDate: in.DueDate, IOPurpose: in.IOPurpose,
				Fallback: in.Fallback, IOMessage: in.IOMessage, Installments: in.Installments,
			})
		}
		return batches
	}

	// A cancel lets the batches in flight finish (their items then have a
	// known state) and stops before the next step.
	windows := 0
	for first := startBatch; first < p.Batches && !stopped(); first += in.Parallel {
		if canContinue && windows > 0 && (windows >= in.WindowsPerRun || workflow.GetInfo(ctx).GetContinueAsNewSuggested()) {
			// Signals not handled yet go along with the state.
			for pauseCh.ReceiveAsync(nil) {
				p.Paused = true
			}
			for resumeCh.ReceiveAsync(nil) {
				p.Paused = false
			}
			for cancelCh.ReceiveAsync(nil) {
				p.CancelRequested = true
			}
			if !stopped() {
				in.Resume = &Resume{Stage: st, NextBatch: first, Progress: p}
				return p, workflow.NewContinueAsNewError(ctx, WorkflowName, in)
			}
		}
		windows++
		if err := workflow.Await(ctx, func() bool { return !p.Paused || stopped() }); err != nil {
			return p, err
		}
		if stopped() {
			break
		}
		batches := window(first)
		p.Phase = "positions"
		futs := make([]workflow.Future, len(batches))
		for i, b := range batches {
			futs[i] = workflow.ExecuteActivity(posCtx, a.CreatePositions, b)
		}
		for _, f := range futs {
			var r BatchResult
			if err := f.Get(ctx, &r); err != nil {
				return p, err
			}
			p.PositionBatches++
			p.PositionsPublished += r.Done
			p.PositionsFailed += r.Failed
		}
		if stopped() {
			break
		}
		p.Phase = "messages"
		for i, b := range batches {
			futs[i] = workflow.ExecuteActivity(ioCtx, a.NotifyIO, b)
		}
		for _, f := range futs {
			var r BatchResult
			if err := f.Get(ctx, &r); err != nil {
				return p, err
			}
			p.MessageBatches++
			p.MessagesSent += r.Sent
			p.NotOnIO += r.NotOnIO
			p.SenderNotAllowed += r.NotAllowed
			p.MessagesFailed += r.Failed
			p.MessagesUnknown += r.Unknown
		}
		if !emailFallback || stopped() {
			continue
		}
		p.Phase = "fallback"
		for i, b := range batches {
			futs[i] = workflow.ExecuteActivity(chCtx, a.SendFallback, b)
		}
		for _, f := range futs {
			var r BatchResult
			if err := f.Get(ctx, &r); err != nil {
				return p, err
			}
			p.EmailsSent += r.Sent
		}
	}

	// Counts from the store are the truth: a batch retried after a crash
	// reports only what it did itself, so per-batch sums can undercount.
	sumCtx := workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		TaskQueue: QueueLegacy, StartToCloseTimeout: time.Minute, RetryPolicy: retry,
	})
	var totals Progress
	if err := workflow.ExecuteActivity(sumCtx, a.Totals, in.CampaignID).Get(ctx, &totals); err != nil {
		return p, err
	}
	p.PositionsPublished, p.PositionsFailed = totals.PositionsPublished, totals.PositionsFailed
	p.MessagesSent, p.NotOnIO, p.SenderNotAllowed = totals.MessagesSent, totals.NotOnIO, totals.SenderNotAllowed
	p.MessagesFailed, p.MessagesUnknown = totals.MessagesFailed, totals.MessagesUnknown
	p.EmailsSent, p.EmailsFailed, p.NeedPrint = totals.EmailsSent, totals.EmailsFailed, totals.NeedPrint
	if stopped() {
		return cancelCampaign(ctx, in, p, window, batchOpts(QueuePagoPA), sumCtx)
	}
	// Version 1 of "reminders" hands the reminders, when the campaign has
	// some, to their own workflow, which outlives this one (its durable
	// timers wait for days before the due date).
	if len(in.ReminderDaysBefore) > 0 && in.DueDate != "" &&
		workflow.GetVersion(ctx, "reminders", workflow.DefaultVersion, 1) >= 1 {
		if err := startReminders(ctx, in, st.Valid); err != nil {
			return p, err
		}
		p.RemindersWorkflowID = RemindersWorkflowID(in.TenantID, in.CampaignID)
	}
	p.Phase = "done"
	p.FinishedAt = workflow.Now(ctx)
	return p, nil
}

// startReminders starts RemindersWorkflow as a child that goes on after the
// campaign ends; one that already runs (the campaign was started again) is
// left alone.
func startReminders(ctx workflow.Context, in Input, items int) error {
	cctx := workflow.WithChildOptions(ctx, workflow.ChildWorkflowOptions{
		WorkflowID:        RemindersWorkflowID(in.TenantID, in.CampaignID),
		TaskQueue:         QueueWorkflows,
		ParentClosePolicy: enums.PARENT_CLOSE_POLICY_ABANDON,
	})
	f := workflow.ExecuteChildWorkflow(cctx, RemindersWorkflowName, RemindersInput{
		TenantID: in.TenantID, CampaignID: in.CampaignID, Subject: in.Subject, SubjectEN: in.SubjectEN,
		IOPurpose: in.IOPurpose, DueDate: in.DueDate, DaysBefore: in.ReminderDaysBefore, SendHour: in.ReminderHour,
		Items: items, BatchSize: max(in.BatchSize, 500), Parallel: 2,
	})
	var exec workflow.Execution
	err := f.GetChildWorkflowExecution().Get(ctx, &exec)
	var already *temporal.ChildWorkflowExecutionAlreadyStartedError
	if errors.As(err, &already) {
		return nil
	}
	return err
}

// cancelCampaign invalidates the campaign's unpaid positions batch by batch
// and ends the workflow with a result that says it was cancelled.
func cancelCampaign(ctx workflow.Context, in Input, p Progress, window func(int) []BatchInput, posCtx, sumCtx workflow.Context) (Progress, error) {
	p.Phase = "cancelling"
	p.Paused = false
	for first := 0; first < p.Batches; first += in.Parallel {
		batches := window(first)
		futs := make([]workflow.Future, len(batches))
		for i, b := range batches {
			futs[i] = workflow.ExecuteActivity(posCtx, a.CancelBatch, b)
		}
		for _, f := range futs {
			if err := f.Get(ctx, nil); err != nil {
				return p, err
			}
		}
	}
	var c CancelResult
	if err := workflow.ExecuteActivity(sumCtx, a.FinishCancel, in.CampaignID).Get(ctx, &c); err != nil {
		return p, err
	}
	p.PositionsInvalidated, p.CancelPaidKept, p.CancelNotCreated, p.CancelFailed = c.Invalidated, c.PaidKept, c.NotCreated, c.Failed
	p.Cancelled = true
	p.Phase = "cancelled"
	p.FinishedAt = workflow.Now(ctx)
	return p, nil
}
