package campaign

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/testsuite"
)

type cancelCalls struct {
	mu                         sync.Mutex
	positions, io, fb, cancels []BatchInput
}

func (c *cancelCalls) add(list *[]BatchInput, b BatchInput) {
	c.mu.Lock()
	defer c.mu.Unlock()
	*list = append(*list, b)
}

// newCancelEnv mocks every activity; each batch step takes a minute of
// workflow time, so that signals can land between steps.
func newCancelEnv(t *testing.T, valid int) (*testsuite.TestWorkflowEnvironment, *cancelCalls) {
	t.Helper()
	var s testsuite.WorkflowTestSuite
	env := s.NewTestWorkflowEnvironment()
	acts := &Activities{}
	env.RegisterActivity(acts)
	c := &cancelCalls{}
	env.OnActivity(acts.RecordCampaign, mock.Anything, mock.Anything).Return(nil)
	env.OnActivity(acts.StageDebtors, mock.Anything, mock.Anything).Return(StageResult{Read: valid + 1, Valid: valid, Rejected: 1}, nil)
	env.OnActivity(acts.CreatePositions, mock.Anything, mock.Anything).After(time.Minute).Return(
		func(_ context.Context, b BatchInput) (BatchResult, error) {
			c.add(&c.positions, b)
			return BatchResult{Done: b.To - b.From}, nil
		})
	env.OnActivity(acts.NotifyIO, mock.Anything, mock.Anything).After(time.Minute).Return(
		func(_ context.Context, b BatchInput) (BatchResult, error) {
			c.add(&c.io, b)
			return BatchResult{Sent: b.To - b.From}, nil
		})
	env.OnActivity(acts.SendFallback, mock.Anything, mock.Anything).After(time.Minute).Return(
		func(_ context.Context, b BatchInput) (BatchResult, error) {
			c.add(&c.fb, b)
			return BatchResult{}, nil
		})
	env.OnActivity(acts.CancelBatch, mock.Anything, mock.Anything).Return(
		func(_ context.Context, b BatchInput) (CancelResult, error) {
			c.add(&c.cancels, b)
			return CancelResult{}, nil
		})
	env.OnActivity(acts.Totals, mock.Anything, mock.Anything).Return(Progress{PositionsPublished: 10, MessagesSent: 10}, nil)
	env.OnActivity(acts.FinishCancel, mock.Anything, "c").Return(CancelResult{Invalidated: 8, PaidKept: 2, NotCreated: 20}, nil)
	return env, c
}

func TestWorkflowCancelStopsNewWorkAndInvalidates(t *testing.T) {
	env, c := newCancelEnv(t, 30)
	// The first window's positions finish at 1m, its messages at 2m: a
	// cancel at 90s lets the messages in flight finish, then stops.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCancel, nil) }, 90*time.Second)
	env.ExecuteWorkflow(Workflow, Input{CampaignID: "c", TenantID: "t", Source: "s", BatchSize: 10, Parallel: 1})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	if !p.Cancelled || p.Phase != "cancelled" || !p.CancelRequested {
		t.Errorf("result does not say cancelled: %+v", p)
	}
	if p.PositionsInvalidated != 8 || p.CancelPaidKept != 2 || p.CancelNotCreated != 20 {
		t.Errorf("cancel counts: invalidated %d, paid kept %d, not created %d", p.PositionsInvalidated, p.CancelPaidKept, p.CancelNotCreated)
	}
	if len(c.positions) != 1 || len(c.io) != 1 || len(c.fb) != 0 {
		t.Errorf("after the cancel new work was issued: positions %d, IO %d, fallback %d batches; want 1, 1, 0", len(c.positions), len(c.io), len(c.fb))
	}
	// Every batch of the campaign is cancelled, also those never started.
	sort.Slice(c.cancels, func(i, j int) bool { return c.cancels[i].From < c.cancels[j].From })
	want := [][2]int{{0, 10}, {10, 20}, {20, 30}}
	if len(c.cancels) != len(want) {
		t.Fatalf("cancel batches: %+v", c.cancels)
	}
	for i, b := range c.cancels {
		if b.From != want[i][0] || b.To != want[i][1] || b.TenantID != "t" || b.CampaignID != "c" {
			t.Errorf("cancel batch %d: %+v", i, b)
		}
	}
}

func TestWorkflowCancelWhilePaused(t *testing.T) {
	env, c := newCancelEnv(t, 25)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPause, nil) }, 0)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCancel, nil) }, time.Hour)
	env.ExecuteWorkflow(Workflow, Input{CampaignID: "c", TenantID: "t", Source: "s", BatchSize: 10, Parallel: 2})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	if !p.Cancelled || p.Paused {
		t.Errorf("want cancelled and not paused: %+v", p)
	}
	if len(c.positions) != 0 || len(c.io) != 0 {
		t.Errorf("a paused campaign issued work before its cancel: %d position, %d IO batches", len(c.positions), len(c.io))
	}
	if len(c.cancels) != 3 {
		t.Errorf("cancel batches: %d, want 3", len(c.cancels))
	}
}

func TestWorkflowWithoutCancelRunsToDone(t *testing.T) {
	env, c := newCancelEnv(t, 12)
	env.ExecuteWorkflow(Workflow, Input{CampaignID: "c", TenantID: "t", Source: "s", BatchSize: 10, Parallel: 2})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	if p.Cancelled || p.Phase != "done" || len(c.cancels) != 0 || len(c.fb) != 2 {
		t.Errorf("phase %s cancelled %v, cancel batches %d, fallback batches %d", p.Phase, p.Cancelled, len(c.cancels), len(c.fb))
	}
}
