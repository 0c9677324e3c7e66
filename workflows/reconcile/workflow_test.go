package reconcile

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"
)

func mockSteps(env *testsuite.TestWorkflowEnvironment, acts *Activities, fetched *[]FetchInput, mu *sync.Mutex) {
	env.OnActivity(acts.PlanReconcile, mock.Anything, mock.Anything).Return(Plan{Date: "2026-04-01", Org: "80012345676", Open: 1200,
		Ranges: []Range{{"c1", 0, 500}, {"c1", 500, 1000}, {"c2", 3, 204}}}, nil)
	env.OnActivity(acts.FetchReceipts, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in FetchInput) (FetchResult, error) {
			mu.Lock()
			defer mu.Unlock()
			*fetched = append(*fetched, in)
			return FetchResult{Checked: in.Range.To - in.Range.From, Found: 2, New: 1}, nil
		})
	env.OnActivity(acts.MatchReceipts, mock.Anything, StepInput{TenantID: "esempio", Date: "2026-04-01"}).Return(MatchResult{Receipts: 5, Matched: 4, NewlyPaid: 3, Anomalies: 1}, nil)
	env.OnActivity(acts.WriteBackPayments, mock.Anything, StepInput{TenantID: "esempio", Date: "2026-04-01"}).Return(WriteBackResult{Written: 3}, nil)
	env.OnActivity(acts.WriteReconcileReport, mock.Anything, StepInput{TenantID: "esempio", Date: "2026-04-01"}).Return(ReportResult{CSV: "r.csv", JSON: "r.json"}, nil)
}

func TestWorkflowRunsOnce(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{}
	env.RegisterActivity(acts)
	var mu sync.Mutex
	var fetched []FetchInput
	mockSteps(env, acts, &fetched, &mu)
	env.ExecuteWorkflow(Workflow, Input{TenantID: "esempio", Parallel: 2})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var r Result
	if err := env.GetWorkflowResult(&r); err != nil {
		t.Fatal(err)
	}
	if len(fetched) != 3 {
		t.Fatalf("fetch batches: %d, want 3", len(fetched))
	}
	if r.Phase != "done" || r.Date != "2026-04-01" || r.Open != 1200 {
		t.Errorf("result: %+v", r)
	}
	if r.Fetch.Checked != 500+500+201 || r.Fetch.Found != 6 || r.Fetch.New != 3 {
		t.Errorf("fetch totals: %+v", r.Fetch)
	}
	if r.Match.NewlyPaid != 3 || r.WriteBack.Written != 3 || r.Report.CSV != "r.csv" {
		t.Errorf("steps: %+v %+v %+v", r.Match, r.WriteBack, r.Report)
	}
}

func TestWorkflowPeriodicContinuesAsNew(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{}
	env.RegisterActivity(acts)
	env.RegisterWorkflowWithOptions(Workflow, workflow.RegisterOptions{Name: WorkflowName})
	var mu sync.Mutex
	var fetched []FetchInput
	mockSteps(env, acts, &fetched, &mu)
	start := env.Now()
	env.ExecuteWorkflow(WorkflowName, Input{TenantID: "esempio", Every: 24 * time.Hour})
	var can *workflow.ContinueAsNewError
	if err := env.GetWorkflowError(); !errors.As(err, &can) {
		t.Fatalf("want continue-as-new after a periodic run, got %v", err)
	}
	if can.WorkflowType.Name != WorkflowName {
		t.Errorf("continues as %q", can.WorkflowType.Name)
	}
	if slept := env.Now().Sub(start); slept < 24*time.Hour {
		t.Errorf("continued after %s, want a day", slept)
	}
	if len(fetched) != 3 {
		t.Errorf("fetch batches: %d", len(fetched))
	}
}
