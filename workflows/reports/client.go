package reports

import (
	"context"
	"fmt"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
)

// Start starts report id's lifecycle workflow (WorkflowID); a running one
// is kept, so the intake's hook may be called again safely. It is what
// `ponte serve` gives the Open311 intake as OnReceived.
func Start(ctx context.Context, c client.Client, tenantID, id string) (client.WorkflowRun, error) {
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: WorkflowID(tenantID, id), TaskQueue: Queue,
		WorkflowIDConflictPolicy: enums.WORKFLOW_ID_CONFLICT_POLICY_USE_EXISTING}, WorkflowName, Input{TenantID: tenantID, ReportID: id})
	if err != nil {
		return nil, fmt.Errorf("starting the lifecycle of report %s: %w", id, err)
	}
	return run, nil
}

// OnReceived returns the intake hook that starts each stored report's
// lifecycle through c.
func OnReceived(c client.Client) func(ctx context.Context, r *Report) error {
	return func(ctx context.Context, r *Report) error {
		_, err := Start(ctx, c, r.Tenant, r.ID)
		return err
	}
}

// Signal tells report id's workflow a state change (a CRM's webhook, an
// operator).
func Signal(ctx context.Context, c client.Client, tenantID, id string, s StatusSignal) error {
	if !s.State.Valid() {
		return fmt.Errorf("unknown state %q (one of %v)", s.State, States)
	}
	return c.SignalWorkflow(ctx, WorkflowID(tenantID, id), "", SignalStatus, s)
}

// Query returns report id's workflow progress.
func Query(ctx context.Context, c client.Client, tenantID, id string) (Progress, error) {
	var p Progress
	v, err := c.QueryWorkflow(ctx, WorkflowID(tenantID, id), "", QueryProgress)
	if err != nil {
		return p, err
	}
	return p, v.Get(&p)
}

// Poke makes report id's workflow read its ticket now (SignalPoll).
func Poke(ctx context.Context, c client.Client, tenantID, id string) error {
	return c.SignalWorkflow(ctx, WorkflowID(tenantID, id), "", SignalPoll, nil)
}
