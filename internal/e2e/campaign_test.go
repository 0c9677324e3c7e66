package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/api/enums/v1"
	historypb "go.temporal.io/api/history/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// env is one embedded Temporal server with workers, the mocks and a sample
// comune whose debtors file is generated.
type env struct {
	rt     *runtime.Runtime
	mocks  *mockset.Set
	tenant *tenant.Tenant
	fcs    []string
}

func newEnv(t *testing.T, debtors, broken int, notOnIO map[int]bool) *env {
	t.Helper()
	dir := t.TempDir()
	fcs, err := writeDebtorsCSV(filepath.Join(t.TempDir(), "debtors.csv"), debtors, broken, 7)
	if err != nil {
		t.Fatal(err)
	}
	profiles := map[string]appiomock.ProfileSpec{}
	for i, fc := range fcs {
		if !notOnIO[i] {
			profiles[fc] = appiomock.ProfileSpec{SenderAllowed: true, Languages: []string{"it_IT"}}
		}
	}
	mocks := startMocks(t, mockset.Options{Config: mockset.Config{appiomock.Kind: appiomock.Options{Profiles: profiles}}})
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := writeDebtorsCSV(filepath.Join(dir, "debtors.csv"), debtors, broken, 7); err != nil {
		t.Fatal(err)
	}
	rt := startRuntime(t, path)
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return &env{rt: rt, mocks: mocks, tenant: tn, fcs: fcs}
}

func (e *env) run(t *testing.T, in campaign.Input) (campaign.Progress, client.WorkflowRun) {
	t.Helper()
	return runCampaign(t, e.rt.Client, in)
}

// runCampaign starts a campaign on c and waits for its result.
func runCampaign(t *testing.T, c client.Client, in campaign.Input) (campaign.Progress, client.WorkflowRun) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: campaign.WorkflowID(in.TenantID, in.CampaignID), TaskQueue: campaign.QueueWorkflows,
	}, campaign.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	var p campaign.Progress
	if err := run.Get(ctx, &p); err != nil {
		t.Fatalf("campaign failed: %v", err)
	}
	return p, run
}

func TestCampaignEndToEnd(t *testing.T) {
	notOnIO := map[int]bool{3: true, 11: true}
	e := newEnv(t, 40, 2, notOnIO)
	src := firstSourceName(e.tenant)
	in := campaign.Input{CampaignID: "tari-2026", TenantID: e.tenant.ID, Source: src, Subject: "TARI 2026", SubjectEN: "TARI 2026", BatchSize: 7}

	// Faults on the platforms: transient 503s and one create whose response is
	// lost after GPD committed it. The campaign must still end with exactly one
	// position and at most one message per debtor.
	e.mocks.GPD.Faults().FailNext(3, 503)
	e.mocks.GPD.Faults().LoseNext(1)
	e.mocks.IO.Faults().FailNext(2, 503)

	p, run := e.run(t, in)
	if p.Read != 42 || p.Valid != 40 || p.Rejected != 2 {
		t.Errorf("read/valid/rejected = %d/%d/%d, want 42/40/2", p.Read, p.Valid, p.Rejected)
	}
	if p.PositionsPublished != 40 || p.PositionsFailed != 0 {
		t.Errorf("positions published/failed = %d/%d, want 40/0", p.PositionsPublished, p.PositionsFailed)
	}
	if p.MessagesSent+p.MessagesUnknown != 38 || p.NotOnIO != 2 {
		t.Errorf("IO sent %d + unknown %d, not on IO %d; want 38 total, 2 not on IO", p.MessagesSent, p.MessagesUnknown, p.NotOnIO)
	}
	// No email relay in this tenant: the two debtors outside IO go to print.
	if p.NeedPrint != 2 || p.EmailsSent != 0 {
		t.Errorf("fallback: to print %d, emails %d; want 2, 0", p.NeedPrint, p.EmailsSent)
	}
	checkNoDuplicates(t, e, 40)

	ctx := context.Background()
	items, err := campaignStore(t, e.rt).AllItems(ctx, in.CampaignID)
	if err != nil {
		t.Fatal(err)
	}
	navs := map[string]bool{}
	for _, it := range items {
		if len(it.NAV) != 18 || it.NAV[0] != '3' || navs[it.NAV] {
			t.Errorf("line %d: bad or repeated NAV %q", it.Line, it.NAV)
		}
		navs[it.NAV] = true
	}
	// Every message carries the payment data of its debtor's position.
	byFC := map[string]campaign.Item{}
	for _, it := range items {
		byFC[it.FiscalCode] = it
	}
	for _, m := range e.mocks.IO.Messages() {
		it, ok := byFC[m.FiscalCode]
		if !ok || m.PaymentData == nil || m.PaymentData.NoticeNumber != it.NAV || m.PaymentData.Amount != it.AmountCents {
			t.Errorf("message to %s: payment data %+v does not match item %+v", m.FiscalCode, m.PaymentData, it)
		}
	}

	// Running the same campaign again issues nothing new.
	before := len(e.mocks.IO.Messages())
	p2, run2 := e.run(t, in)
	if id := campaign.WorkflowID(in.TenantID, in.CampaignID); run2.GetID() != id {
		t.Errorf("second run has workflow id %q, want the campaign's %q", run2.GetID(), id)
	}
	if p2.PositionsPublished != 40 || len(e.mocks.IO.Messages()) != before {
		t.Errorf("second run: published %d, messages %d → %d", p2.PositionsPublished, before, len(e.mocks.IO.Messages()))
	}
	checkNoDuplicates(t, e, 40)

	if name := os.Getenv("PONTE_RECORD_HISTORY"); name != "" {
		recordHistory(t, e.rt.Client, run, "../../workflows/campaign/testdata/"+name+"-history.json")
	}
}

func checkNoDuplicates(t *testing.T, e *env, wantPositions int) {
	t.Helper()
	pos := e.mocks.GPD.Positions(e.tenant.FiscalCode)
	if len(pos) != wantPositions {
		t.Errorf("GPD holds %d positions, want %d", len(pos), wantPositions)
	}
	iupds, iuvs := map[string]bool{}, map[string]bool{}
	for _, p := range pos {
		if iupds[p.IUPD] {
			t.Errorf("duplicate IUPD %s", p.IUPD)
		}
		iupds[p.IUPD] = true
		for _, o := range p.PaymentOption {
			if iuvs[o.IUV] {
				t.Errorf("duplicate IUV %s", o.IUV)
			}
			iuvs[o.IUV] = true
		}
	}
	seen := map[string]bool{}
	for _, m := range e.mocks.IO.Messages() {
		if seen[m.FiscalCode] {
			t.Errorf("two messages to %s", m.FiscalCode)
		}
		seen[m.FiscalCode] = true
	}
}

func firstSourceName(t *tenant.Tenant) string {
	best := ""
	for n := range t.Sources {
		if best == "" || n < best {
			best = n
		}
	}
	return best
}

// recordHistory writes a finished run's history for the replay test
// (PONTE_RECORD_HISTORY=campaign-vN go test ./internal/e2e -run TestCampaignEndToEnd).
func recordHistory(t *testing.T, c client.Client, run client.WorkflowRun, path string) {
	t.Helper()
	it := c.GetWorkflowHistory(context.Background(), run.GetID(), run.GetRunID(), false, enums.HISTORY_EVENT_FILTER_TYPE_ALL_EVENT)
	h := &historypb.History{}
	for it.HasNext() {
		ev, err := it.Next()
		if err != nil {
			t.Fatal(err)
		}
		h.Events = append(h.Events, ev)
	}
	b, err := protojson.MarshalOptions{Indent: "  "}.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("recorded %d events to %s", len(h.Events), path)
}
