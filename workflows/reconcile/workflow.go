package reconcile

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// a is only used for typed activity references; the worker registers a real
// *Activities.
var a *Activities

// Workflow reconciles one tenant: plan the open positions, fetch their
// receipts from GPD in parallel batches, match every stored receipt, write
// the paid statuses back, write the day's report. With Input.Every it then
// sleeps and continues as new, so its history stays small for ever.
func Workflow(ctx workflow.Context, in Input) (Result, error) {
	in.defaults()
	res := Result{TenantID: in.TenantID, CampaignID: in.CampaignID, Phase: "planning"}
	if err := workflow.SetQueryHandler(ctx, QueryProgress, func() (Result, error) { return res, nil }); err != nil {
		return res, err
	}
	retry := &temporal.RetryPolicy{
		InitialInterval:        time.Second,
		BackoffCoefficient:     2,
		MaximumInterval:        time.Minute,
		NonRetryableErrorTypes: []string{ErrBadInput},
	}
	opts := func(queue string, timeout time.Duration) workflow.Context {
		return workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
			TaskQueue: queue, StartToCloseTimeout: timeout, HeartbeatTimeout: 30 * time.Second, RetryPolicy: retry,
		})
	}
	local, remote := opts(QueueLegacy, 30*time.Minute), opts(QueuePagoPA, 30*time.Minute)

	var plan Plan
	if err := workflow.ExecuteActivity(local, a.PlanReconcile, in).Get(ctx, &plan); err != nil {
		return res, err
	}
	res.Date, res.Open = plan.Date, plan.Open

	res.Phase = "fetching"
	for first := 0; first < len(plan.Ranges); first += in.Parallel {
		last := min(first+in.Parallel, len(plan.Ranges))
		futs := make([]workflow.Future, 0, last-first)
		for _, r := range plan.Ranges[first:last] {
			futs = append(futs, workflow.ExecuteActivity(remote, a.FetchReceipts, FetchInput{TenantID: in.TenantID, Range: r}))
		}
		for _, f := range futs {
			var fr FetchResult
			if err := f.Get(ctx, &fr); err != nil {
				return res, err
			}
			res.Fetch.Checked += fr.Checked
			res.Fetch.Found += fr.Found
			res.Fetch.New += fr.New
		}
	}

	step := StepInput{TenantID: in.TenantID, CampaignID: in.CampaignID, Date: plan.Date}
	res.Phase = "matching"
	if err := workflow.ExecuteActivity(local, a.MatchReceipts, step).Get(ctx, &res.Match); err != nil {
		return res, err
	}
	res.Phase = "writing-back"
	if err := workflow.ExecuteActivity(local, a.WriteBackPayments, step).Get(ctx, &res.WriteBack); err != nil {
		return res, err
	}
	res.Phase = "reporting"
	if err := workflow.ExecuteActivity(local, a.WriteReconcileReport, step).Get(ctx, &res.Report); err != nil {
		return res, err
	}
	res.Phase = "done"
	if in.Every > 0 {
		if err := workflow.Sleep(ctx, in.Every); err != nil {
			return res, err
		}
		return res, workflow.NewContinueAsNewError(ctx, WorkflowName, in)
	}
	return res, nil
}
