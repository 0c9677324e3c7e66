package e2e

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/workflows/campaign"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

// restEnv is the embedded server with workers, every mock, and the sample
// comune reading its debtors from the tributi back office mock over REST,
// which is also the sink paid statuses are written back to.
type restEnv struct {
	rt      *runtime.Runtime
	mocks   *mockset.Set
	tenant  *tenant.Tenant
	debtors []legacy.Debtor // valid ones, in source order
	reports string
}

var sourcesBlock = regexp.MustCompile(`(?ms)^sources:\n.*?(^\S|\z)`)

func newRESTEnv(t *testing.T, valid, broken int, notOnIO func(i int) bool) *restEnv {
	t.Helper()
	debtors := fixtures.Debtors(valid, 21)
	seeded := make([]legacy.Debtor, 0, valid+broken)
	for i, d := range debtors {
		seeded = append(seeded, d)
		if broken > 0 && i%80 == 5 {
			broken--
			seeded = append(seeded, legacy.Debtor{ExternalID: fmt.Sprintf("BAD-%d", i), FiscalCode: "RSSMRA80A01H501X",
				Name: "Carlo", Surname: "Sbagli", AmountCents: 1000, DueDate: "2026-12-31", Description: "codice fiscale errato"})
		}
	}
	if broken > 0 {
		t.Fatalf("too few debtors to spread %d broken rows", broken)
	}
	profiles := map[string]appiomock.ProfileSpec{}
	for i, d := range debtors {
		if !notOnIO(i) {
			profiles[d.FiscalCode] = appiomock.ProfileSpec{SenderAllowed: true, Languages: []string{"it_IT"}}
		}
	}
	mocks := startMocks(t, mockset.Options{Config: mockset.Config{
		appiomock.Kind:  appiomock.Options{Profiles: profiles},
		legacymock.Kind: legacymock.Options{Debtors: fixtures.TributiRecords(seeded)},
	}})
	dir := t.TempDir()
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL})
	if err != nil {
		t.Fatal(err)
	}
	y, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`sources:
  tributi-rest:
    kind: rest
    config: {"url": "%s/api/page/debitori", "items": "data.items", "pagination": {"style": "page", "pageSize": 250},
      "fields": {"externalId": "idPratica", "fiscalCode": "contribuente.codiceFiscale", "name": "contribuente.nome",
        "surname": "contribuente.cognome", "email": "contribuente.email", "amount": "importo", "dueDate": "scadenza",
        "description": "causale"},
      "writeBack": {"url": "%s/api/debitori/{externalId}/stato"}}
`, mocks.LegacyURL, mocks.LegacyURL)
	if !sourcesBlock.Match(y) {
		t.Fatalf("no sources block in the sample tenant:\n%s", y)
	}
	y = sourcesBlock.ReplaceAllFunc(y, func(m []byte) []byte {
		next := m[len(m)-1:]
		if len(m) == 0 || bytes.HasSuffix(m, []byte("\n")) {
			next = nil
		}
		return append([]byte(src), next...)
	})
	if err := os.WriteFile(path, y, 0o644); err != nil {
		t.Fatal(err)
	}
	rt, err := runtime.Start(context.Background(), runtime.Config{Tenants: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	reports := t.TempDir()
	if err := rt.StartWorkers(context.Background(), runtime.WorkerOptions{ReportDir: reports}); err != nil {
		t.Fatal(err)
	}
	tn, err := rt.Tenant("esempio")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tn.Sources["tributi-rest"]; !ok {
		t.Fatalf("tenant sources: %v", tn.Sources)
	}
	return &restEnv{rt: rt, mocks: mocks, tenant: tn, debtors: debtors, reports: reports}
}

func (e *restEnv) reconcile(t *testing.T, in reconcile.Input) reconcile.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := e.rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: reconcile.WorkflowID(in.TenantID),
		TaskQueue: reconcile.QueueWorkflows}, reconcile.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	var r reconcile.Result
	if err := run.Get(ctx, &r); err != nil {
		t.Fatalf("reconciliation failed: %v", err)
	}
	return r
}

func (e *restEnv) campaign(t *testing.T, in campaign.Input) (campaign.Progress, client.WorkflowRun) {
	t.Helper()
	return runCampaign(t, e.rt.Client, in)
}

// ecEndpoint serves the ente's EC SOAP endpoint: receipts pushed by the Nodo
// go to the state store; notices are those of mem.
func (e *restEnv) ecEndpoint(t *testing.T, mem *nodo.MemoryBackend) string {
	srv := httptest.NewServer(nodo.NewHandler(&nodo.ReceiptBackend{Next: mem, Receipts: reconcileStore(t, e.rt)}, nodo.Options{}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// ecNotice is a notice of mem payable for cents.
func ecNotice(t *testing.T, mem *nodo.MemoryBackend, org, nav string, cents int64, fc string) {
	t.Helper()
	n, err := pagopa.ParseNAV(nav)
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: nav, Payment: nodo.Payment{IUV: n.IUV, AmountCents: cents,
		Description: "TARI 2026", CompanyName: "Comune di Esempio", Debtor: pagopa.Party{Type: "F", FiscalCode: fc, Name: "Mario Rossi"},
		Transfers: []pagopa.ReceiptTransfer{{ID: 1, AmountCents: cents, OrgFiscalCode: org, IBAN: "IT30N0103003200000001234567",
			Remittance: "TARI 2026", Category: "9/0101100IM/"}}}}); err != nil {
		t.Fatal(err)
	}
}

func TestCampaignReconcileEndToEnd(t *testing.T) {
	const valid, broken = 1000, 12
	start := time.Now()
	e := newRESTEnv(t, valid, broken, func(i int) bool { return i%10 == 7 })
	ctx := context.Background()
	org := e.tenant.FiscalCode
	in := campaign.Input{CampaignID: "tari-rest", TenantID: e.tenant.ID, Source: "tributi-rest", Subject: "TARI 2026", SubjectEN: "TARI 2026", BatchSize: 100}
	p, run := e.campaign(t, in)
	if id := campaign.WorkflowID(in.TenantID, in.CampaignID); run.GetID() != id {
		t.Errorf("campaign workflow id %q, want %q", run.GetID(), id)
	}
	t.Logf("campaign of %d rows in %s", valid+broken, time.Since(start).Round(time.Millisecond))
	if p.Read != valid+broken || p.Valid != valid || p.Rejected != broken || p.PositionsPublished != valid {
		t.Fatalf("campaign: read %d valid %d rejected %d published %d", p.Read, p.Valid, p.Rejected, p.PositionsPublished)
	}
	if p.MessagesSent != 900 || p.NotOnIO != 100 || p.NeedPrint != 100 {
		t.Errorf("campaign: IO sent %d, not on IO %d, to print %d; want 900, 100, 100", p.MessagesSent, p.NotOnIO, p.NeedPrint)
	}
	items, err := campaignStore(t, e.rt).AllItems(ctx, in.CampaignID)
	if err != nil {
		t.Fatal(err)
	}

	// Citizens pay: every 7th debtor through a PSP on GPD.
	paid := map[string]bool{}
	for i := 0; i < len(items); i += 7 {
		if _, err := e.mocks.Nodo.PayGPD(ctx, org, items[i].NAV); err != nil {
			t.Fatal(err)
		}
		paid[items[i].ExternalID] = true
	}
	// Through the ente's own EC endpoint (paSendRTV2): a receipt for an IUV
	// no campaign issued, one for a campaign notice with one euro less than
	// due, and a second payment of a notice already paid on GPD.
	mem := nodo.NewMemoryBackend(nil)
	ec := e.ecEndpoint(t, mem)
	strayIUV, err := pagopa.NewIUV("01", "9999999999999")
	if err != nil {
		t.Fatal(err)
	}
	strayNAV, err := pagopa.NAVFromIUV(3, "", strayIUV)
	if err != nil {
		t.Fatal(err)
	}
	short, dup := items[1], items[7]
	ecNotice(t, mem, org, strayNAV, 4200, "RSSMRA80A01H501U")
	ecNotice(t, mem, org, short.NAV, short.AmountCents-100, short.FiscalCode)
	ecNotice(t, mem, org, dup.NAV, dup.AmountCents, dup.FiscalCode)
	for _, nav := range []string{strayNAV, short.NAV, dup.NAV} {
		if _, err := e.mocks.Nodo.PayEC(ctx, ec, org, nav); err != nil {
			t.Fatalf("paying %s on the EC endpoint: %v", nav, err)
		}
	}

	rstart := time.Now()
	r := e.reconcile(t, reconcile.Input{TenantID: e.tenant.ID})
	t.Logf("reconciliation of %d positions in %s", r.Open, time.Since(rstart).Round(time.Millisecond))
	if r.Open != valid || r.Fetch.Checked != valid || r.Fetch.Found != len(paid) {
		t.Errorf("fetch: open %d, %+v; want %d checked, %d found", r.Open, r.Fetch, valid, len(paid))
	}
	if m := r.Match; m.Matched != len(paid)+2 || m.NewlyPaid != len(paid) || m.NewlyPartial != 1 || m.Anomalies != 3 {
		t.Errorf("match: %+v; want %d matched, %d paid, 1 partial, 3 anomalies", m, len(paid)+2, len(paid))
	}
	if w := r.WriteBack; w.Written != len(paid) || w.Held != 1 || w.Failed != 0 || w.NoSink != 0 {
		t.Errorf("write-back: %+v, want %d written and 1 held", w, len(paid))
	}
	tot := r.Report.Totals
	if tot.Items != valid || tot.Paid != len(paid) || tot.PartiallyPaid != 1 || tot.Unpaid != valid-len(paid)-1 ||
		tot.AnomaliesByKind[reconcile.AnomalyUnknownIUV] != 1 || tot.AnomaliesByKind[reconcile.AnomalyAmountMismatch] != 1 ||
		tot.AnomaliesByKind[reconcile.AnomalyDuplicate] != 1 {
		t.Errorf("daily report totals: %+v", tot)
	}
	// Written back: exactly the paid ones, once each, as paid.
	ups := e.mocks.Legacy.Updates()
	if len(ups) != len(paid) {
		t.Errorf("tributi got %d updates, want %d", len(ups), len(paid))
	}
	for _, u := range ups {
		if !paid[u.ExternalID] || u.Status != legacy.StatusPaid || u.PaidDate == "" || u.AmountPaidCents <= 0 {
			t.Errorf("unexpected write-back %+v", u)
		}
	}
	var daily reconcile.DailyReport
	js, err := os.ReadFile(r.Report.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &daily); err != nil {
		t.Fatal(err)
	}
	if len(daily.Payments) != len(paid)+2 || len(daily.Anomalies) != 3 || filepath.Dir(r.Report.CSV) != filepath.Join(e.reports, e.tenant.ID) {
		t.Errorf("daily report: %d payments, %d anomalies, at %s", len(daily.Payments), len(daily.Anomalies), r.Report.CSV)
	}

	// The final campaign report: counts add up, one status per debtor.
	pays, err := reconcileStore(t, e.rt).Payments(ctx, in.CampaignID)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := campaignStore(t, e.rt).BuildReport(ctx, in.CampaignID, pays)
	if err != nil {
		t.Fatal(err)
	}
	rt := rep.Totals
	if rt.SourceRows != p.Read || rt.Valid != valid || rt.Rejected != broken {
		t.Errorf("report rows: %d = %d + %d; the campaign read %d", rt.SourceRows, rt.Valid, rt.Rejected, p.Read)
	}
	if rt.ByStatus[campaign.StatusPaid] != len(paid) || rt.ByStatus[campaign.StatusPartiallyPaid] != 1 || rt.ByStatus[campaign.StatusUnpaid] != valid-len(paid)-1 {
		t.Errorf("report statuses: %v", rt.ByStatus)
	}
	if rt.ByChannel[campaign.ChannelIO] != 900 || rt.ByChannel[campaign.ChannelPrint] != 100 {
		t.Errorf("report channels: %v", rt.ByChannel)
	}
	for _, d := range rep.Debtors {
		if paid[d.ExternalID] && (d.Status != campaign.StatusPaid || d.PaidDate == "") {
			t.Errorf("paid debtor %s reported %s (paid date %q)", d.ExternalID, d.Status, d.PaidDate)
		}
		if d.Channel == campaign.ChannelIO && d.IOMessageID == "" {
			t.Errorf("debtor %s reached on IO without a message id", d.ExternalID)
		}
	}
	var buf bytes.Buffer
	if err := rep.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1+valid+broken {
		t.Errorf("CSV report: %d records, want header + %d", len(recs), valid+broken)
	}

	// A second run the same day changes nothing.
	r2 := e.reconcile(t, reconcile.Input{TenantID: e.tenant.ID})
	if r2.Fetch.New != 0 || r2.Match.Receipts != 0 || r2.Match.Anomalies != 0 || r2.WriteBack.Written != 0 {
		t.Errorf("second run: %+v %+v %+v", r2.Fetch, r2.Match, r2.WriteBack)
	}
	if n := len(e.mocks.Legacy.Updates()); n != len(paid) {
		t.Errorf("tributi got %d updates after a rerun, want %d", n, len(paid))
	}
	js2, err := os.ReadFile(r2.Report.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(js, js2) {
		t.Error("the daily report changed on a rerun")
	}
}

func TestCampaignCancelEndToEnd(t *testing.T) {
	const valid = 300
	e := newRESTEnv(t, valid, 0, func(int) bool { return false })
	e.mocks.GPD.Faults().SetLatency(15 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	org := e.tenant.FiscalCode
	in := campaign.Input{CampaignID: "tari-annullata", TenantID: e.tenant.ID, Source: "tributi-rest", Subject: "TARI 2026", BatchSize: 20, Parallel: 1}
	wfID := campaign.WorkflowID(in.TenantID, in.CampaignID)
	run, err := e.rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: campaign.QueueWorkflows}, campaign.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	// Pause once some positions exist, and wait for the batch in flight.
	for len(e.mocks.GPD.Positions(org)) < 40 {
		if ctx.Err() != nil {
			t.Fatal("no positions created")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := e.rt.Client.SignalWorkflow(ctx, wfID, "", campaign.SignalPause, nil); err != nil {
		t.Fatal(err)
	}
	var p campaign.Progress
	for {
		v, err := e.rt.Client.QueryWorkflow(ctx, wfID, "", campaign.QueryProgress)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&p); err != nil {
			t.Fatal(err)
		}
		if p.Paused && p.Phase == "fallback" && p.PositionBatches == p.MessageBatches {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // the window's fallback batch finishes
	created := e.mocks.GPD.Positions(org)
	if len(created) >= valid {
		t.Fatalf("all %d positions created before the pause: raise the latency", len(created))
	}
	// Some citizens pay before the cancel.
	paidIUPD := map[string]bool{}
	for i := 0; i < 10; i++ {
		pos := created[i*3]
		if _, err := e.mocks.Nodo.PayGPD(ctx, org, pos.PaymentOption[0].NAV); err != nil {
			t.Fatal(err)
		}
		paidIUPD[pos.IUPD] = true
	}
	if err := e.rt.Client.SignalWorkflow(ctx, wfID, "", campaign.SignalCancel, nil); err != nil {
		t.Fatal(err)
	}
	if err := run.Get(ctx, &p); err != nil {
		t.Fatalf("cancelled campaign: %v", err)
	}
	t.Logf("cancelled with %d of %d positions created: %+v", len(created), valid, p)
	if !p.Cancelled || p.Phase != "cancelled" {
		t.Errorf("result does not say cancelled: phase %s", p.Phase)
	}
	if p.PositionsInvalidated != len(created)-10 || p.CancelPaidKept != 10 || p.CancelNotCreated != valid-len(created) || p.CancelFailed != 0 {
		t.Errorf("cancel counts: invalidated %d, paid kept %d, not created %d, failed %d; want %d, 10, %d, 0",
			p.PositionsInvalidated, p.CancelPaidKept, p.CancelNotCreated, p.CancelFailed, len(created)-10, valid-len(created))
	}
	after := e.mocks.GPD.Positions(org)
	if len(after) != len(created) {
		t.Errorf("positions created after the cancel: %d → %d", len(created), len(after))
	}
	for _, pos := range after {
		want := pagopa.StatusInvalid
		if paidIUPD[pos.IUPD] {
			want = pagopa.StatusPaid
		}
		if pos.Status != want {
			t.Errorf("position %s is %s, want %s", pos.IUPD, pos.Status, want)
		}
	}
	if name := os.Getenv("PONTE_RECORD_HISTORY"); name != "" {
		recordHistory(t, e.rt.Client, run, "../../workflows/campaign/testdata/"+name+"-cancelled-history.json")
	}
	// Reconciliation finds the ten payments; the report adds up.
	r := e.reconcile(t, reconcile.Input{TenantID: e.tenant.ID, CampaignID: in.CampaignID})
	if r.Open != 10 || r.Match.NewlyPaid != 10 || r.Match.Anomalies != 0 || r.WriteBack.Written != 10 {
		t.Errorf("reconcile after cancel: open %d, %+v, %+v", r.Open, r.Match, r.WriteBack)
	}
	pays, err := reconcileStore(t, e.rt).Payments(ctx, in.CampaignID)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := campaignStore(t, e.rt).BuildReport(ctx, in.CampaignID, pays)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Cancelled || rep.Totals.ByStatus[campaign.StatusPaid] != 10 || rep.Totals.ByStatus[campaign.StatusCancelled] != valid-10 {
		t.Errorf("report after cancel: cancelled %v, statuses %v", rep.Cancelled, rep.Totals.ByStatus)
	}
}
