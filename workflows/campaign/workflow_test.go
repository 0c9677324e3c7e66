package campaign

import (
	"context"
	"errors"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
)

func TestWorkflowBatchesAndTotals(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{}
	env.RegisterActivity(acts)

	env.OnActivity(acts.RecordCampaign, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.StageDebtors, mock.Anything, mock.Anything).Return(StageResult{Read: 25, Valid: 23, Rejected: 2}, nil)
	// Batches of one window run concurrently: collect under a lock.
	var mu sync.Mutex
	var posBatches, ioBatches []BatchInput
	env.OnActivity(acts.CreatePositions, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b BatchInput) (BatchResult, error) {
			mu.Lock()
			defer mu.Unlock()
			posBatches = append(posBatches, b)
			return BatchResult{Done: b.To - b.From}, nil
		})
	env.OnActivity(acts.NotifyIO, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b BatchInput) (BatchResult, error) {
			mu.Lock()
			defer mu.Unlock()
			ioBatches = append(ioBatches, b)
			return BatchResult{Sent: b.To - b.From}, nil
		})
	fallbackCalls := 0
	env.OnActivity(acts.SendFallback, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b BatchInput) (BatchResult, error) {
			mu.Lock()
			defer mu.Unlock()
			fallbackCalls++
			return BatchResult{}, nil
		})
	env.OnActivity(acts.Totals, mock.Anything, "tari").Return(Progress{PositionsPublished: 23, MessagesSent: 21, NotOnIO: 2, EmailsSent: 1, NeedPrint: 1}, nil)

	env.ExecuteWorkflow(Workflow, Input{CampaignID: "tari", TenantID: "esempio", Source: "csv", Subject: "TARI", BatchSize: 10, Parallel: 2})
	if !env.IsWorkflowCompleted() {
		t.Fatal("workflow did not complete")
	}
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	if p.Batches != 3 || p.PositionBatches != 3 || p.MessageBatches != 3 {
		t.Errorf("batches: got %d/%d/%d, want 3/3/3", p.Batches, p.PositionBatches, p.MessageBatches)
	}
	if p.Read != 25 || p.Rejected != 2 || p.PositionsPublished != 23 || p.MessagesSent != 21 || p.NotOnIO != 2 || p.Phase != "done" {
		t.Errorf("totals: %+v", p)
	}
	// Batches cover [0,23) exactly once.
	sort.Slice(posBatches, func(i, j int) bool { return posBatches[i].From < posBatches[j].From })
	wantRanges := [][2]int{{0, 10}, {10, 20}, {20, 23}}
	for i, b := range posBatches {
		if b.From != wantRanges[i][0] || b.To != wantRanges[i][1] || b.IOPurpose != "payments" {
			t.Errorf("position batch %d: %+v", i, b)
		}
	}
	if len(ioBatches) != 3 || fallbackCalls != 3 {
		t.Errorf("IO batches: %d, fallback batches: %d", len(ioBatches), fallbackCalls)
	}
	if p.EmailsSent != 1 || p.NeedPrint != 1 {
		t.Errorf("fallback totals: %+v", p)
	}
}

func TestWorkflowBadInputFailsWithoutRetry(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{}
	env.RegisterActivity(acts)
	calls := 0
	env.OnActivity(acts.RecordCampaign, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.StageDebtors, mock.Anything, mock.Anything).Return(
		func(_ context.Context, _ Input) (StageResult, error) {
			calls++
			return StageResult{}, temporal.NewNonRetryableApplicationError("tenant has no source \"x\"", ErrBadInput, errors.New("x"))
		})
	env.ExecuteWorkflow(Workflow, Input{CampaignID: "c", TenantID: "t", Source: "x"})
	err := env.GetWorkflowError()
	var ae *temporal.ApplicationError
	if !errors.As(err, &ae) || ae.Type() != ErrBadInput {
		t.Fatalf("want BadInput application error, got %v", err)
	}
	if calls != 1 {
		t.Errorf("bad input was retried: %d calls", calls)
	}
}

func TestWorkflowPauseResume(t *testing.T) {
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{}
	env.RegisterActivity(acts)
	env.OnActivity(acts.RecordCampaign, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.StageDebtors, mock.Anything, mock.Anything).Return(StageResult{Read: 4, Valid: 4}, nil)
	posCalls := 0
	env.OnActivity(acts.CreatePositions, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b BatchInput) (BatchResult, error) {
			posCalls++
			return BatchResult{Done: b.To - b.From}, nil
		})
	env.OnActivity(acts.NotifyIO, mock.Anything, mock.Anything).Return(BatchResult{}, nil)
	env.OnActivity(acts.SendFallback, mock.Anything, mock.Anything).Return(BatchResult{}, nil)
	env.OnActivity(acts.Totals, mock.Anything, mock.Anything).Return(Progress{PositionsPublished: 4}, nil)

	// Pause before the first batch window; after an hour of workflow time no
	// batch has run; then resume.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPause, nil) }, 0)
	env.RegisterDelayedCallback(func() {
		v, err := env.QueryWorkflow(QueryProgress)
		if err != nil {
			t.Error(err)
			return
		}
		var p Progress
		if err := v.Get(&p); err != nil {
			t.Fatal(err)
		}
		if !p.Paused || posCalls != 0 {
			t.Errorf("while paused: paused=%v, position batches run=%d", p.Paused, posCalls)
		}
		env.SignalWorkflow(SignalResume, nil)
	}, time.Hour)
	env.ExecuteWorkflow(Workflow, Input{CampaignID: "c", TenantID: "t", Source: "s", BatchSize: 2, Parallel: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	if posCalls != 2 {
		t.Errorf("position batches: %d, want 2", posCalls)
	}
}
