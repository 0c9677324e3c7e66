package onboarding_test

import (
	"context"
	"testing"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/onboarding"
)

// TestWorkflowRunsEveryCheckAndSaves: the workflow runs each check as the
// real activity (against the sample comune and the mocks) in order, and
// stores the run at the workflow's clock.
func TestWorkflowRunsEveryCheckAndSaves(t *testing.T) {
	ten := sampleTenant(t, nil)
	ctx := context.Background()
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := onboarding.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	a := &onboarding.Activities{Store: st, Checker: &onboarding.Checker{PublicURL: ecServer(t, ten)},
		Tenants: func(id string) (*tenant.Tenant, error) { return ten, nil }}
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	start := mustTime(t, "2026-12-02T08:30:00Z")
	env.SetStartTime(start)
	env.RegisterWorkflowWithOptions(onboarding.Workflow, workflow.RegisterOptions{Name: onboarding.WorkflowName})
	env.RegisterActivityWithOptions(a.RunCheck, activity.RegisterOptions{Name: onboarding.ActivityCheck})
	env.RegisterActivityWithOptions(a.SaveRun, activity.RegisterOptions{Name: onboarding.ActivitySave})
	var order []string
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		var in onboarding.CheckInput
		if info.ActivityType.Name == onboarding.ActivityCheck && args.Get(&in) == nil {
			order = append(order, in.Check)
		}
	})
	env.ExecuteWorkflow(onboarding.WorkflowName, onboarding.Input{Tenant: ten.ID})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var r onboarding.Report
	if err := env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	if !r.Ready() || len(r.Items) != len(onboarding.Checks) || !r.RunAt.Equal(start) {
		t.Errorf("report %+v", r)
	}
	if len(order) != len(onboarding.Checks) || order[0] != onboarding.CheckConfig || order[len(order)-1] != onboarding.CheckSMTP {
		t.Errorf("checks ran in order %v", order)
	}
	runs, err := st.Runs(ctx, ten.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || !runs[0].RunAt.Equal(start) || runs[0].OK != len(onboarding.Checks) {
		t.Errorf("stored runs %+v", runs)
	}
}
