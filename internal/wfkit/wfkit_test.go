package wfkit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.temporal.io/sdk/temporal"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func TestActivityError(t *testing.T) {
	app := temporal.NewApplicationError("already converted", "Custom")
	tests := []struct {
		name         string
		err          error
		wantType     string
		nonRetryable bool
		delay        time.Duration
	}{
		{"permanent", failure.Permanentf("401 unauthorized"), ErrPermanent, true, 0},
		{"ambiguous", failure.Mark(failure.Ambiguous, errors.New("lost answer")), ErrAmbiguous, true, 0},
		{"retry after", failure.After(7*time.Second, errors.New("429")), ErrRetryable, false, 7 * time.Second},
		{"unclassified", errors.New("database is locked"), ErrRetryable, false, 0},
		{"application error passes", app, "Custom", false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ae *temporal.ApplicationError
			if !errors.As(ActivityError(tt.err), &ae) {
				t.Fatalf("ActivityError(%v) is no ApplicationError", tt.err)
			}
			if ae.Type() != tt.wantType || ae.NonRetryable() != tt.nonRetryable || ae.NextRetryDelay() != tt.delay {
				t.Errorf("type %s, non-retryable %v, delay %v; want %s, %v, %v", ae.Type(), ae.NonRetryable(), ae.NextRetryDelay(),
					tt.wantType, tt.nonRetryable, tt.delay)
			}
		})
	}
	if ActivityError(nil) != nil {
		t.Error("nil must stay nil")
	}
	if err := ActivityError(fmt.Errorf("send: %w", context.Canceled)); !errors.Is(err, context.Canceled) {
		t.Errorf("a cancelled activity: %v", err)
	}
}

func TestRetries(t *testing.T) {
	var r Retries
	if r.Err("messages", 3) != nil {
		t.Fatal("no failure: want nil")
	}
	r.Add("line 2", failure.After(2*time.Second, errors.New("429")))
	r.Add("line 5", failure.After(9*time.Second, errors.New("429")))
	r.Add("line 7", errors.New("503"))
	var ae *temporal.ApplicationError
	err := r.Err("App IO messages", 10)
	if !errors.As(err, &ae) || ae.NonRetryable() || ae.NextRetryDelay() != 9*time.Second {
		t.Fatalf("Err = %v, want retryable after 9s", err)
	}
	for _, w := range []string{"3 of 10 App IO messages", "line 2: 429", "line 7: 503"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error lacks %q: %v", w, err)
		}
	}
}

func TestRetriesKeepBadInput(t *testing.T) {
	var r Retries
	r.Add("line 2", errors.New("503"))
	r.Add("line 3", BadInput("tenant %q has no App IO service", "esempio"))
	var ae *temporal.ApplicationError
	if err := r.Err("messages", 2); !errors.As(err, &ae) || ae.Type() != ErrBadInput || !ae.NonRetryable() {
		t.Errorf("Err = %v, want the bad input, not a retry", err)
	}
}

func TestForEachBoundsAndStops(t *testing.T) {
	var inFlight, peak, done atomic.Int32
	items := make([]int, 50)
	if err := ForEach(context.Background(), 3, items, func(int) {
		n := inFlight.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(time.Millisecond)
		inFlight.Add(-1)
		done.Add(1)
	}); err != nil {
		t.Fatal(err)
	}
	if peak.Load() > 3 || done.Load() != 50 {
		t.Errorf("peak %d in flight (limit 3), %d done of 50", peak.Load(), done.Load())
	}
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	err := ForEach(ctx, 1, items, func(int) {
		if started.Add(1) == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || started.Load() >= 50 {
		t.Errorf("after cancel: %v, %d started", err, started.Load())
	}
}

func TestTenantLookupAndConnectors(t *testing.T) {
	tn := &tenant.Tenant{ID: "esempio",
		PagoPA: tenant.PagoPA{GPD: tenant.GPD{BaseURL: "http://127.0.0.1:9/gpd"}},
		AppIO: tenant.AppIO{BaseURL: "http://127.0.0.1:9/api/v1", Services: map[string]tenant.IOService{
			"payments": {ServiceID: "01HZESEMPIO", Key: tenant.NewSecret("env:PONTE_TEST_IO_KEY", "")}}}}
	look := TenantLookup(func(id string) (*tenant.Tenant, error) {
		if id == "esempio" {
			return tn, nil
		}
		return nil, fmt.Errorf("unknown tenant %q", id)
	})
	var ae *temporal.ApplicationError
	if _, err := look.Get("altro"); !errors.As(err, &ae) || ae.Type() != ErrBadInput || !ae.NonRetryable() {
		t.Errorf("unknown tenant: %v", err)
	}
	var c Connectors
	if _, err := c.AppIO(tn, "alerts"); !errors.As(err, &ae) || ae.Type() != ErrBadInput || !strings.Contains(err.Error(), "appio.services.alerts") {
		t.Errorf("missing App IO service: %v", err)
	}
	t.Setenv("PONTE_TEST_IO_KEY", "io-key")
	s, err := c.AppIO(tn, "payments")
	if err != nil || s.Key != "io-key" || s.Client == nil {
		t.Errorf("App IO payments = %+v, %v", s, err)
	}
	if s2, err := c.AppIO(tn, "payments"); err != nil || s2.Client != s.Client {
		t.Errorf("a second App IO sender does not share the client: %v", err)
	}
	if _, err := c.Source(tn, "tributi"); !errors.As(err, &ae) || ae.Type() != ErrBadInput {
		t.Errorf("missing source: %v", err)
	}
	tn.Dir = t.TempDir()
	tn.People = map[string]tenant.Source{
		"residenti": {Kind: "csv", Config: json.RawMessage(`{"path":"residenti.csv","delimiter":";"}`)},
		"crm":       {Kind: "rest", Config: json.RawMessage(`{"url":"https://crm.example.it"}`)},
	}
	if p, err := c.People(tn, "residenti"); err != nil || p.Name() != "csv:residenti.csv" {
		t.Errorf("People(residenti) = %v, %v", p, err)
	}
	if _, err := c.People(tn, "iscritti"); !errors.As(err, &ae) || ae.Type() != ErrBadInput || !ae.NonRetryable() ||
		!strings.Contains(err.Error(), `tenant "esempio" has no people source "iscritti" (known: crm, residenti)`) {
		t.Errorf("unknown people source: %v", err)
	}
	if _, err := c.People(tn, "crm"); !errors.As(err, &ae) || ae.Type() != ErrBadInput || !strings.Contains(err.Error(), `unknown people source kind "rest"`) {
		t.Errorf("people source of an unknown kind: %v", err)
	}
	t.Setenv("PONTE_TEST_GPD_KEY", "")
	tn.PagoPA.GPD.SubscriptionKey = tenant.NewSecret("env:PONTE_TEST_GPD_KEY", "")
	if _, err := c.GPD(tn); !errors.As(err, &ae) || !strings.Contains(err.Error(), "pagopa.gpd.subscriptionKey") {
		t.Errorf("GPD key unset: %v", err)
	}
	if chans, err := c.Channels(tn); err != nil || len(chans) != 0 {
		t.Errorf("no channels configured: %v, %v", chans, err)
	}
}

func TestHostRegistrations(t *testing.T) {
	var h Host
	h.Workflow("q-wf", "W", func() {})
	h.Activity("q-b", "A1", func() {})
	h.Activity("q-a", "A2", func() {})
	if got := fmt.Sprint(h.Queues()); got != "[q-a q-b q-wf]" {
		t.Errorf("Queues = %s", got)
	}
	if rs := h.Registrations(); len(rs) != 3 || !rs[0].Workflow || rs[1].Name != "A1" || rs[1].Queue != "q-b" {
		t.Errorf("Registrations = %+v", rs)
	}
}
