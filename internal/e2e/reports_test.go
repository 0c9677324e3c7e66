package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// lifecycleCRM is a CRM kind that exists only in this test package: it
// files one ticket per report (its id as client reference), fails its
// first Forward, and moves each ticket one state further at every read.
type lifecycleCRM struct {
	mu      sync.Mutex
	tickets map[string]int // ticket → reads
	byRef   map[string]string
	failed  bool
}

var theLifecycleCRM = &lifecycleCRM{tickets: map[string]int{}, byRef: map[string]string{}}

func init() {
	reports.CRMs.Register(registry.Kind[reports.CRM]{Name: "lifecycle-crm", Doc: "test only",
		Open: func(json.RawMessage, registry.Env) (reports.CRM, error) { return theLifecycleCRM, nil }})
}

func (c *lifecycleCRM) Kind() string { return "lifecycle-crm" }

func (c *lifecycleCRM) Forward(_ context.Context, r *reports.Report) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.failed {
		c.failed = true
		return "", failure.Retryablef("crm: 503")
	}
	if t, ok := c.byRef[r.ID]; ok {
		return t, nil
	}
	t := fmt.Sprintf("CRM-%d", len(c.byRef)+1)
	c.byRef[r.ID] = t
	return t, nil
}

func (c *lifecycleCRM) Status(_ context.Context, ticket string) (reports.State, string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tickets[ticket]++
	switch c.tickets[ticket] {
	case 1:
		return reports.StateForwarded, "", nil
	case 2:
		return reports.StateInCharge, "", nil
	}
	return reports.StateResolved, "Buca riparata", nil
}

// TestReportLifecycleEmbedded: on the embedded Temporal server, a report
// started the way `ponte serve`'s intake hook starts it is forwarded (once,
// though the CRM failed the first time), followed to resolution, and its
// SPID reporter is told of each change once on App IO, in English as
// their profile asks; starting it again keeps the running workflow.
func TestReportLifecycleEmbedded(t *testing.T) {
	dir := t.TempDir()
	fc := "RSSMRA85T10A562S"
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{
		appiomock.Kind: appiomock.Options{Profiles: map[string]appiomock.ProfileSpec{fc: {SenderAllowed: true, Languages: []string{"en_GB"}}}},
		smtpmock.Kind:  mockset.SampleSMTP(dir)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	path, err := tenant.WriteSample(dir, mocks.SampleVars())
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(data), "  pollInterval: 15m\n", "  pollInterval: 1s\n  ioPurpose: news\n  routes:\n    - {service: \"*\", kind: lifecycle-crm}\n", 1)
	if cfg == string(data) {
		t.Fatal("the sample has no reports.pollInterval")
	}
	path = filepath.Join(dir, "tenant-reports.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	rt := startRuntime(t, path)
	ctx := context.Background()
	st, err := reports.NewStore(ctx, rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	r := &reports.Report{Tenant: "esempio", ServiceCode: "buca-stradale", ServiceName: "Buca stradale", Address: "Via Roma 1",
		Reporter: reports.Reporter{FiscalCode: fc}}
	if err := st.Create(ctx, r, nil); err != nil {
		t.Fatal(err)
	}
	hook := reports.OnReceived(rt.Client)
	for range 2 {
		if err := hook(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	var p reports.Progress
	run := rt.Client.GetWorkflow(wctx, reports.WorkflowID("esempio", r.ID), "")
	if err := run.Get(wctx, &p); err != nil {
		t.Fatal(err)
	}
	// PONTE_RECORD_REPORT_HISTORY=lifecycle-vN records this run for the
	// replay test of workflows/reports.
	if name := os.Getenv("PONTE_RECORD_REPORT_HISTORY"); name != "" {
		recordHistory(t, rt.Client, run, "../../workflows/reports/testdata/"+name+"-history.json")
	}
	if p.State != reports.StateResolved || p.Ticket != "CRM-1" || len(theLifecycleCRM.byRef) != 1 {
		t.Fatalf("progress %+v, tickets %v", p, theLifecycleCRM.byRef)
	}
	got, err := st.Get(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status() != "closed" || got.StatusNotes != "Buca riparata" {
		t.Errorf("stored %s %q", got.State, got.StatusNotes)
	}
	var subjects []string
	for _, m := range mocks.IO.Messages() {
		if m.FiscalCode == fc {
			subjects = append(subjects, m.Subject)
		}
	}
	if len(subjects) != 3 || !strings.Contains(subjects[0], "forwarded") || !strings.Contains(subjects[1], "taken in charge") || !strings.Contains(subjects[2], "resolved") {
		t.Errorf("App IO subjects %q", subjects)
	}
	// A closed report's workflow takes no more signals.
	if err := reports.Signal(ctx, rt.Client, "esempio", r.ID, reports.StatusSignal{State: reports.StateRejected}); err == nil {
		t.Error("a signal to a closed report was accepted")
	}
}
