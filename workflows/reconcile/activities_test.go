package reconcile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"go.temporal.io/sdk/testsuite"

	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/store/storetest"
	"github.com/ponte-pa/ponte/internal/tenant"
	gpdmock "github.com/ponte-pa/ponte/mocks/gpd"
	legacymock "github.com/ponte-pa/ponte/mocks/legacy"
	"github.com/ponte-pa/ponte/workflows/campaign"
)

// fixture is a state store (SQLite or a PostgreSQL schema, see
// storetest.ForEachDialect), the GPD and tributi mocks on real HTTP, and a campaign of six debtors whose positions were created by
// the campaign's own CreatePositions activity.
type fixture struct {
	st      *Store
	gpd     *gpdmock.Server
	legacy  *legacymock.Server
	tenant  *tenant.Tenant
	acts    *Activities
	env     *testsuite.TestActivityEnvironment
	items   []campaign.Item
	iuvs    *pagopa.IUVAllocator
	reports string
}

const testOrg = "80012345676"

func newFixture(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	ctx := storetest.Ctx(t)
	st, err := NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: st, gpd: gpdmock.New(gpdmock.Options{}), reports: t.TempDir()}
	gsrv := httptest.NewServer(f.gpd)
	t.Cleanup(gsrv.Close)
	var debtors []legacy.Debtor
	for i := range 6 {
		debtors = append(debtors, legacy.Debtor{Line: i + 2, ExternalID: fmt.Sprintf("PR-%d", i), FiscalCode: fmt.Sprintf("RSSMRA80A01H50%dX", i),
			Name: "Mario", Surname: fmt.Sprintf("Rossi%d", i), AmountCents: int64(10000 + i*100), DueDate: "2026-12-31", Description: "TARI 2026"})
	}
	f.legacy = legacymock.New(legacymock.Options{Debtors: fixtures.TributiRecords(debtors)})
	lsrv := httptest.NewServer(f.legacy)
	t.Cleanup(lsrv.Close)
	t.Setenv("PONTE_TEST_GPD_KEY", "test-key")
	restCfg := fmt.Sprintf(`{"url":"%s/api/page/debitori","items":"data.items","pagination":{"style":"page","pageSize":50},
		"writeBack":{"url":"%s/api/debitori/{externalId}/stato"}}`, lsrv.URL, lsrv.URL)
	f.tenant = &tenant.Tenant{ID: "esempio", Name: tenant.Localized{IT: "Comune di Esempio"}, FiscalCode: testOrg,
		PagoPA: tenant.PagoPA{AuxDigit: 3, SegregationCode: "01", IBAN: "IT30N0103003200000001234567",
			GPD: tenant.GPD{BaseURL: gsrv.URL, SubscriptionKey: tenant.NewSecret("env:PONTE_TEST_GPD_KEY", "")}},
		Sources: map[string]tenant.Source{"tributi": {Kind: legacy.KindREST, Config: json.RawMessage(restCfg)}}}
	lookup := func(id string) (*tenant.Tenant, error) {
		if id != f.tenant.ID {
			return nil, fmt.Errorf("unknown tenant %q", id)
		}
		return f.tenant, nil
	}
	if f.iuvs, err = pagopa.NewIUVAllocator(db.DB, db.Dialect); err != nil {
		t.Fatal(err)
	}
	var ts testsuite.WorkflowTestSuite
	f.env = ts.NewTestActivityEnvironment()
	ca := &campaign.Activities{Tenants: lookup, Store: st.Campaigns, IUV: f.iuvs}
	f.acts = &Activities{Tenants: lookup, Store: st, ReportDir: f.reports,
		Now: func() time.Time { return time.Date(2026, 4, 1, 10, 0, 0, 0, time.UTC) }}
	f.env.RegisterActivity(ca)
	f.env.RegisterActivity(f.acts)

	if err := st.Campaigns.RecordMeta(ctx, campaign.Meta{CampaignID: "tari", TenantID: "esempio", Source: "tributi"}); err != nil {
		t.Fatal(err)
	}
	for i, d := range debtors {
		if err := st.Campaigns.AddItem(ctx, "tari", i, d); err != nil {
			t.Fatal(err)
		}
	}
	var br campaign.BatchResult
	f.exec(t, ca.CreatePositions, campaign.BatchInput{CampaignID: "tari", TenantID: "esempio", From: 0, To: 6, Subject: "TARI 2026"}, &br)
	if br.Done != 6 {
		t.Fatalf("positions created: %+v", br)
	}
	if f.items, err = st.Campaigns.AllItems(ctx, "tari"); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) exec(t *testing.T, fn, in, out any) {
	t.Helper()
	v, err := f.env.ExecuteActivity(fn, in)
	if err != nil {
		t.Fatalf("activity: %v", err)
	}
	if err := v.Get(out); err != nil {
		t.Fatal(err)
	}
}

// run is one reconciliation run, step by step as the workflow does it.
func (f *fixture) run(t *testing.T) Result {
	t.Helper()
	var p Plan
	f.exec(t, f.acts.PlanReconcile, Input{TenantID: "esempio", BatchSize: 4}, &p)
	r := Result{Date: p.Date, Open: p.Open}
	for _, rg := range p.Ranges {
		var fr FetchResult
		f.exec(t, f.acts.FetchReceipts, FetchInput{TenantID: "esempio", Range: rg}, &fr)
		r.Fetch.Checked += fr.Checked
		r.Fetch.Found += fr.Found
		r.Fetch.New += fr.New
	}
	step := StepInput{TenantID: "esempio", Date: p.Date}
	f.exec(t, f.acts.MatchReceipts, step, &r.Match)
	f.exec(t, f.acts.WriteBackPayments, step, &r.WriteBack)
	f.exec(t, f.acts.WriteReconcileReport, step, &r.Report)
	return r
}

// receipt is a receipt the Nodo would push for nav, of amount cents.
func receipt(t *testing.T, id, nav string, cents int64, at time.Time) pagopa.Receipt {
	t.Helper()
	n, err := pagopa.ParseNAV(nav)
	if err != nil {
		t.Fatal(err)
	}
	return pagopa.Receipt{ReceiptID: id, IUV: n.IUV, NAV: nav, OrgFiscalCode: testOrg, Outcome: "OK", AmountCents: cents,
		PaymentDate: at, PSP: pagopa.PSP{ID: "PSPX", Name: "PSP X"},
		Transfers: []pagopa.ReceiptTransfer{{ID: 1, AmountCents: cents, OrgFiscalCode: testOrg, IBAN: "IT30N0103003200000001234567"}}}
}

func TestReconcileMatchesWritesBackAndReportsAnomalies(t *testing.T) {
	storetest.ForEachDialect(t, testReconcileMatchesWritesBackAndReportsAnomalies)
}

func testReconcileMatchesWritesBackAndReportsAnomalies(t *testing.T, db *store.DB) {
	f := newFixture(t, db)
	ctx := storetest.Ctx(t)
	it := f.items
	// 23:30 UTC on 14 March is 15 March in Rome: the paid date is Rome's.
	at := time.Date(2026, 3, 14, 23, 30, 0, 0, time.UTC)
	for _, i := range []int{0, 1, 3} {
		if _, err := f.gpd.PayWith(testOrg, it[i].NAV, gpdmock.PaymentInfo{At: at}); err != nil {
			t.Fatal(err)
		}
	}
	backend := &nodo.ReceiptBackend{Receipts: f.st}
	// Item 2: paid through the Nodo with one euro less than due.
	if err := backend.SendRT(ctx, receipt(t, "NODO-2", it[2].NAV, it[2].AmountCents-100, at)); err != nil {
		t.Fatal(err)
	}
	// Item 3: a second payment through the Nodo on top of the GPD one.
	if err := backend.SendRT(ctx, receipt(t, "NODO-3", it[3].NAV, it[3].AmountCents, at.Add(time.Hour))); err != nil {
		t.Fatal(err)
	}
	// A receipt for an IUV no campaign issued.
	iuv, err := pagopa.NewIUV("01", "9999999999999")
	if err != nil {
		t.Fatal(err)
	}
	nav, err := pagopa.NAVFromIUV(3, "", iuv)
	if err != nil {
		t.Fatal(err)
	}
	if err := backend.SendRT(ctx, receipt(t, "NODO-X", nav, 4200, at)); err != nil {
		t.Fatal(err)
	}
	// The same receipt pushed again is a duplicate delivery, not a payment.
	if err := backend.SendRT(ctx, receipt(t, "NODO-X", nav, 4200, at)); !errors.Is(err, nodo.ErrReceiptDup) {
		t.Fatalf("receipt delivered twice: got %v, want PAA_RECEIPT_DUPLICATA", err)
	}

	r := f.run(t)
	if r.Date != "2026-04-01" || r.Open != 6 {
		t.Errorf("plan: date %s, open %d", r.Date, r.Open)
	}
	if r.Fetch.Checked != 6 || r.Fetch.Found != 3 || r.Fetch.New != 3 {
		t.Errorf("fetch: %+v, want 6 checked, 3 found, 3 new", r.Fetch)
	}
	if m := r.Match; m.Receipts != 6 || m.Matched != 5 || m.NewlyPaid != 3 || m.NewlyPartial != 1 || m.Anomalies != 3 {
		t.Errorf("match: %+v, want 6 receipts, 5 matched, 3 paid, 1 partial, 3 anomalies", m)
	}
	if w := r.WriteBack; w.Written != 3 || w.Held != 1 || w.Failed != 0 || w.NoSink != 0 {
		t.Errorf("write-back: %+v", w)
	}
	ups := f.legacy.Updates()
	if len(ups) != 3 {
		t.Fatalf("tributi received %d updates, want 3: %+v", len(ups), ups)
	}
	for _, u := range ups {
		var want campaign.Item
		for _, x := range it {
			if x.ExternalID == u.ExternalID {
				want = x
			}
		}
		if u.Status != legacy.StatusPaid || u.PaidDate != "2026-03-15" || u.NAV != want.NAV || u.IUV != want.IUV {
			t.Errorf("update %+v does not match item %s (NAV %s)", u, want.ExternalID, want.NAV)
		}
		if want.Seq == 3 && u.AmountPaidCents != 2*want.AmountCents {
			t.Errorf("duplicate payment written with %d cents, want %d", u.AmountPaidCents, 2*want.AmountCents)
		}
	}
	pays, err := f.st.Payments(ctx, "tari")
	if err != nil {
		t.Fatal(err)
	}
	if p := pays[2]; p.State != campaign.StatusPartiallyPaid || p.PaidCents != it[2].AmountCents-100 {
		t.Errorf("item 2 payment: %+v", p)
	}
	kinds := map[string]string{}
	an, err := f.st.Anomalies(ctx, testOrg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range an {
		kinds[a.Kind] = a.ReceiptID
	}
	want := map[string]string{AnomalyUnknownIUV: "NODO-X", AnomalyAmountMismatch: "NODO-2", AnomalyDuplicate: "NODO-3"}
	if fmt.Sprint(kinds) != fmt.Sprint(want) {
		t.Errorf("anomalies: %v, want %v", kinds, want)
	}
	tot := r.Report.Totals
	if tot.Items != 6 || tot.Paid != 3 || tot.PartiallyPaid != 1 || tot.Unpaid != 2 || tot.ReceiptsToday != 5 || tot.AnomaliesToday != 3 || tot.WrittenBack != 3 || tot.WriteBackHeld != 1 {
		t.Errorf("report totals: %+v", tot)
	}
	first, err := os.ReadFile(r.Report.JSON)
	if err != nil {
		t.Fatal(err)
	}
	csv1, err := os.ReadFile(r.Report.CSV)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(csv1, []byte("\n")); n != 1+5+3 {
		t.Errorf("CSV report has %d lines, want header + 5 payments + 3 anomalies:\n%s", n, csv1)
	}

	// Running again changes nothing: no receipt, no update, the same report.
	r2 := f.run(t)
	if r2.Fetch.New != 0 || r2.Match.Receipts != 0 || r2.Match.Anomalies != 0 || r2.WriteBack.Written != 0 {
		t.Errorf("second run did something: %+v %+v %+v", r2.Fetch, r2.Match, r2.WriteBack)
	}
	if r2.Open != 3 || r2.Fetch.Checked != 3 {
		t.Errorf("second run: %d open, %d checked; want 3 (2 unpaid + 1 partially paid)", r2.Open, r2.Fetch.Checked)
	}
	if n := len(f.legacy.Updates()); n != 3 {
		t.Errorf("tributi received %d updates after the second run, want still 3", n)
	}
	second, err := os.ReadFile(r2.Report.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, second) {
		t.Errorf("the report changed on a rerun:\n%s\n---\n%s", first, second)
	}

	// The campaign's final report sees the payments.
	rep, err := f.st.Campaigns.BuildReport(ctx, "tari", pays)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Totals.ByStatus[campaign.StatusPaid] != 3 || rep.Totals.ByStatus[campaign.StatusPartiallyPaid] != 1 || rep.Totals.ByStatus[campaign.StatusUnpaid] != 2 {
		t.Errorf("campaign report statuses: %v", rep.Totals.ByStatus)
	}
	if d := rep.Debtors[0]; d.PaidDate != "2026-03-15" || d.Status != campaign.StatusPaid || d.NAV != it[0].NAV {
		t.Errorf("report row 0: %+v", d)
	}
}

func TestReconcileRefusesAnotherTenantsCampaign(t *testing.T) {
	storetest.ForEachDialect(t, testReconcileRefusesAnotherTenantsCampaign)
}

func testReconcileRefusesAnotherTenantsCampaign(t *testing.T, db *store.DB) {
	f := newFixture(t, db)
	ctx := storetest.Ctx(t)
	if err := f.st.Campaigns.RecordMeta(ctx, campaign.Meta{CampaignID: "other", TenantID: "altro"}); err != nil {
		t.Fatal(err)
	}
	_, err := f.env.ExecuteActivity(f.acts.PlanReconcile, Input{TenantID: "esempio", CampaignID: "other"})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(`belongs to tenant "altro"`)) {
		t.Errorf("want a clear error for another tenant's campaign, got %v", err)
	}
	if err := f.st.Campaigns.RecordMeta(ctx, campaign.Meta{CampaignID: "tari", TenantID: "altro"}); err == nil {
		t.Error("a campaign id reused by another tenant was accepted")
	}
}
