package info

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/workflow"

	"github.com/ponte-pa/ponte/internal/rome"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func at(day, hour, minute int) time.Time {
	return time.Date(2026, 12, day, hour, minute, 0, 0, rome.Location)
}

func TestNotQuiet(t *testing.T) {
	night := &QuietHours{From: "21:00", To: "08:00"}
	lunch := &QuietHours{From: "13:00", To: "14:30"}
	for _, c := range []struct {
		q        *QuietHours
		in, want time.Time
	}{
		{night, at(2, 20, 59), at(2, 20, 59)},
		{night, at(2, 21, 0), at(3, 8, 0)},
		{night, at(2, 23, 30), at(3, 8, 0)},
		{night, at(3, 7, 59), at(3, 8, 0)},
		{night, at(3, 8, 0), at(3, 8, 0)},
		{lunch, at(2, 13, 10), at(2, 14, 30)},
		{lunch, at(2, 14, 30), at(2, 14, 30)},
		{nil, at(2, 23, 0), at(2, 23, 0)},
	} {
		if got := NotQuiet(c.in, c.q); !got.Equal(c.want) {
			t.Errorf("NotQuiet(%v, %+v) = %v, want %v", c.in, c.q, got, c.want)
		}
	}
}

func TestTokenRoundTripAndTamper(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	c := Claims{Tenant: "esempio", Campaign: "festa-1", Subject: "residenti/ALL-0003", Topic: "eventi"}
	tok := Sign(key, c)
	got, err := Verify(key, tok)
	if err != nil || got != c {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	for _, bad := range []string{tok + "x", "x" + tok, tok[:len(tok)-2], "", "a.b"} {
		if _, err := Verify(key, bad); err == nil {
			t.Errorf("tampered token %q verified", bad)
		}
	}
	if _, err := Verify([]byte("another key"), tok); err == nil {
		t.Error("a token verified under another key")
	}
}

func TestDefinitionChecksAppIOLimits(t *testing.T) {
	_, err := ParseDefinition("info.yaml", []byte(`id: x
topic: eventi
title: {it: "Breve", en: "Short"}
text: {it: "Troppo corto.", en: "Too short."}
channels: [{kind: appio}]
quietHours: {from: "21:00", to: "21:00"}
`))
	var ce *tenant.ConfigError
	if !asConfigError(err, &ce) {
		t.Fatalf("err = %v, want a ConfigError", err)
	}
	want := map[string]bool{"/title/it": true, "/title/en": true, "/text/it": true, "/text/en": true, "/quietHours": true}
	for _, p := range ce.Problems {
		delete(want, p.Pointer)
	}
	if len(want) > 0 {
		t.Errorf("not reported: %v (got %+v)", want, ce.Problems)
	}
}

// TestWorkflowSchedule: batches go over the spread window from the start
// time, none in the quiet hours (those due then go when they end), pause
// holds them, and each batch is sent once; driven with time skipping.
func TestWorkflowSchedule(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(at(2, 18, 0))
	env.RegisterWorkflowWithOptions(Workflow, workflowOpts())
	reg := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg("InfoRecord", func(context.Context, Input) error { return nil })
	reg("InfoStage", func(context.Context, StageInput) (StageResult, error) { return StageResult{}, nil })
	reg("InfoSendBatch", func(context.Context, BatchInput) (BatchResult, error) { return BatchResult{}, nil })
	reg("InfoFinish", func(context.Context, FinishInput) (Report, error) { return Report{}, nil })
	env.OnActivity("InfoRecord", mock.Anything, mock.Anything).Return(nil)
	env.OnActivity("InfoStage", mock.Anything, mock.Anything).Return(StageResult{Recipients: 40}, nil)
	var batches []BatchInput
	env.OnActivity("InfoSendBatch", mock.Anything, mock.Anything).Return(func(_ context.Context, in BatchInput) (BatchResult, error) {
		batches = append(batches, in)
		return BatchResult{Sent: map[string]int{"appio": 10}}, nil
	})
	var finished FinishInput
	env.OnActivity("InfoFinish", mock.Anything, mock.Anything).Return(func(_ context.Context, in FinishInput) (Report, error) {
		finished = in
		return Report{}, nil
	})
	// Paused for an hour from 20:10: the 20:30 batch waits until 21:10,
	// which is quiet, so it goes at 08:00 with the others.
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalPause, nil) }, 2*time.Hour+10*time.Minute)
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalResume, nil) }, 3*time.Hour+10*time.Minute)
	d := &Definition{ID: "festa", Topic: "eventi", Start: at(2, 20, 0), Spread: "2h", BatchSize: 10, QuietHours: &QuietHours{From: "21:00", To: "08:00"}}
	env.ExecuteWorkflow(Workflow, Input{TenantID: "esempio", Definition: d})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	want := []time.Time{at(2, 20, 0), at(3, 8, 0), at(3, 8, 0), at(3, 8, 0)}
	if len(p.SentAt) != len(want) {
		t.Fatalf("sent at %v, want %v", p.SentAt, want)
	}
	for i := range want {
		if !p.SentAt[i].Equal(want[i]) {
			t.Errorf("batch %d at %v, want %v", i, p.SentAt[i].In(rome.Location), want[i])
		}
	}
	for i, b := range batches {
		if b.From != int64(i*10+1) || b.To != int64(i*10+11) {
			t.Errorf("batch %d covers [%d,%d)", i, b.From, b.To)
		}
	}
	if p.Phase != StateDone || finished.State != StateDone || p.Sent["appio"] != 40 {
		t.Errorf("progress %+v, finished %+v", p, finished)
	}
}

// TestWorkflowCancelInQuietHours: a cancel during the quiet hours ends the
// campaign at once, with the report of what went.
func TestWorkflowCancelInQuietHours(t *testing.T) {
	var suite testsuite.WorkflowTestSuite
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(at(2, 20, 30))
	env.RegisterWorkflowWithOptions(Workflow, workflowOpts())
	reg := func(name string, fn any) { env.RegisterActivityWithOptions(fn, activity.RegisterOptions{Name: name}) }
	reg("InfoRecord", func(context.Context, Input) error { return nil })
	reg("InfoStage", func(context.Context, StageInput) (StageResult, error) { return StageResult{Recipients: 30}, nil })
	reg("InfoSendBatch", func(context.Context, BatchInput) (BatchResult, error) {
		return BatchResult{Sent: map[string]int{"email": 10}}, nil
	})
	var finished FinishInput
	reg("InfoFinish", func(_ context.Context, in FinishInput) (Report, error) { finished = in; return Report{}, nil })
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalCancel, nil) }, 3*time.Hour)
	d := &Definition{ID: "festa", Topic: "eventi", Spread: "3h", BatchSize: 10, QuietHours: &QuietHours{From: "21:00", To: "08:00"}}
	env.ExecuteWorkflow(Workflow, Input{TenantID: "esempio", Definition: d})
	if err := env.GetWorkflowError(); err != nil {
		t.Fatal(err)
	}
	var p Progress
	if err := env.GetWorkflowResult(&p); err != nil {
		t.Fatal(err)
	}
	if p.Phase != StateCancelled || p.BatchesDone != 1 || finished.State != StateCancelled || !p.EndedAt.Equal(at(2, 23, 30)) {
		t.Errorf("progress %+v, finished state %q", p, finished.State)
	}
}

func workflowOpts() workflow.RegisterOptions { return workflow.RegisterOptions{Name: WorkflowName} }

func asConfigError(err error, ce **tenant.ConfigError) bool { return errors.As(err, ce) }
