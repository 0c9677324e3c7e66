package e2e

import (
	"context"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/workflows/campaign"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

// TestCampaignInstallmentsEndToEnd runs a campaign that offers payment in
// two rate besides the single payment: every position on GPD has three
// options, messages list the rate, and reconciliation adds the rate up —
// both paid is paid, one is partially paid, the single payment on top of a
// rata is reported as an overpayment.
func TestCampaignInstallmentsEndToEnd(t *testing.T) {
	e := newRESTEnv(t, 8, 0, func(int) bool { return false })
	ctx := context.Background()
	org := e.tenant.FiscalCode
	in := campaign.Input{CampaignID: "tari-rate", TenantID: e.tenant.ID, Source: "tributi-rest", Subject: "TARI 2026",
		DueDate: "2027-03-31", BatchSize: 4,
		Installments: []campaign.Installment{{DueDate: "2027-03-31", Percent: 50}, {DueDate: "2027-09-30", Percent: 50}}}
	p, run := e.campaign(t, in)
	if id := campaign.WorkflowID(in.TenantID, in.CampaignID); run.GetID() != id {
		t.Errorf("campaign workflow id %q, want %q", run.GetID(), id)
	}
	if p.PositionsPublished != 8 || p.MessagesSent != 8 {
		t.Fatalf("campaign: %+v", p)
	}
	items, err := campaignStore(t, e.rt).AllItems(ctx, in.CampaignID)
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range items {
		if len(it.Rate) != 2 || it.Rate[0].AmountCents+it.Rate[1].AmountCents != it.AmountCents || it.Rate[1].DueDate != "2027-09-30" {
			t.Fatalf("item %d rate %+v (amount %d)", it.Seq, it.Rate, it.AmountCents)
		}
		pos, ok := e.mocks.GPD.Position(org, it.IUPD)
		if !ok || len(pos.PaymentOption) != 3 || pos.PaymentOption[0].IsPartialPayment || !pos.PaymentOption[1].IsPartialPayment ||
			pos.PaymentOption[1].IUV != it.Rate[0].IUV || pos.PaymentOption[2].Amount != it.Rate[1].AmountCents {
			t.Fatalf("GPD position of item %d: %+v", it.Seq, pos.PaymentOption)
		}
	}
	msgs := e.mocks.IO.Messages()
	if len(msgs) != 8 || !strings.Contains(msgs[0].Markdown, "rata 1 di 2") || !strings.Contains(msgs[0].Markdown, "rata 2 di 2") {
		t.Fatalf("IO message does not list the rate:\n%s", msgs[0].Markdown)
	}

	pay := func(nav string) {
		t.Helper()
		if _, err := e.mocks.Nodo.PayGPD(ctx, org, nav); err != nil {
			t.Fatalf("paying %s: %v", nav, err)
		}
	}
	pay(items[0].Rate[0].NAV) // both rate: paid
	pay(items[0].Rate[1].NAV)
	pay(items[1].Rate[0].NAV) // one rata: partially paid
	pay(items[2].NAV)         // single payment: paid
	pay(items[3].Rate[0].NAV) // a rata and then the single payment: overpaid
	pay(items[3].NAV)

	r := e.reconcile(t, reconcile.Input{TenantID: e.tenant.ID, CampaignID: in.CampaignID})
	if r.Fetch.Found != 6 || r.Match.Matched != 6 {
		t.Errorf("fetch %+v, match %+v; want 6 receipts found and matched", r.Fetch, r.Match)
	}
	if r.Match.NewlyPaid != 3 || r.Match.NewlyPartial != 1 || r.Match.Anomalies != 1 {
		t.Errorf("match %+v; want 3 paid, 1 partially paid, 1 anomaly (overpayment)", r.Match)
	}
	if tot := r.Report.Totals; tot.Paid != 3 || tot.PartiallyPaid != 1 || tot.Unpaid != 4 {
		t.Errorf("report totals %+v", tot)
	}
	// Nothing new the second time.
	if r2 := e.reconcile(t, reconcile.Input{TenantID: e.tenant.ID, CampaignID: in.CampaignID}); r2.Match.NewlyPaid != 0 || r2.Match.Anomalies != 0 || r2.Fetch.New != 0 {
		t.Errorf("second run: %+v %+v", r2.Fetch, r2.Match)
	}
}
