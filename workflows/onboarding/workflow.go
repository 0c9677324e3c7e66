package onboarding

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// Workflow runs every check of one tenant as an activity, one after the
// other, then stores the run stamped with the workflow's clock.
func Workflow(ctx workflow.Context, in Input) (Report, error) {
	runAt := workflow.Now(ctx).UTC()
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{
		StartToCloseTimeout: 2 * time.Minute,
		RetryPolicy:         &temporal.RetryPolicy{MaximumAttempts: 3},
	})
	r := Report{Tenant: in.Tenant, RunAt: runAt}
	for _, check := range Checks {
		var it Item
		if err := workflow.ExecuteActivity(ctx, ActivityCheck, CheckInput{Tenant: in.Tenant, Check: check}).Get(ctx, &it); err != nil {
			return r, err
		}
		r.Items = append(r.Items, it)
	}
	if err := workflow.ExecuteActivity(ctx, ActivitySave, r).Get(ctx, nil); err != nil {
		return r, err
	}
	return r, nil
}
