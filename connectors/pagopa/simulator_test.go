package pagopa_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/mocks/gpd"
	nodomock "github.com/ponte-pa/ponte/mocks/nodo"
)

// TestClientWithTheNodoSimulator: 100 positions created and published with
// the client on the GPD mock, 30 paid through the Nodo simulator, the
// receipts read back with the client, every exchange checked against the
// contract.
func TestClientWithTheNodoSimulator(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	sim := nodomock.New(nodomock.Options{GPD: e.mock, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	amounts := map[string]int64{}
	var navs []string
	for i := 1; i <= 100; i++ {
		p, err := e.client.Create(ctx, org, position(t, i), true)
		if err != nil {
			t.Fatal(err)
		}
		if p.Status != pagopa.StatusValid {
			t.Fatalf("position %d is %s", i, p.Status)
		}
		navs = append(navs, p.PaymentOption[0].NAV)
		amounts[p.PaymentOption[0].IUV] = p.PaymentOption[0].Amount
	}
	paid := map[string]bool{}
	for i := 0; len(paid) < 30; i += 3 {
		r, err := sim.PayGPD(ctx, org, navs[i])
		if err != nil {
			t.Fatal(err)
		}
		if r.AmountCents != amounts[r.IUV] || r.NAV != navs[i] {
			t.Fatalf("receipt %+v", r)
		}
		paid[r.IUV] = true
	}
	if _, err := sim.PayGPD(ctx, org, navs[0]); !errors.Is(err, gpd.ErrAlreadyPaid) {
		t.Errorf("second payment: %v", err)
	}
	receipts, err := e.client.AllReceipts(ctx, org, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(receipts) != 30 {
		t.Fatalf("%d receipts, want 30", len(receipts))
	}
	var total, want int64
	for _, r := range receipts {
		var sum int64
		for _, tr := range r.Transfers {
			sum += tr.AmountCents
		}
		if !paid[r.IUV] || r.AmountCents != amounts[r.IUV] || sum != amounts[r.IUV] || r.Source != pagopa.SourceGPD || r.PSP.ID != "MOCKPSP" {
			t.Errorf("receipt %+v", r)
		}
		total += r.AmountCents
	}
	for iuv := range paid {
		want += amounts[iuv]
	}
	if total != want {
		t.Errorf("total %d, want %d", total, want)
	}
	npaid := 0
	for page := 0; page < 10; page++ {
		pp, err := e.client.List(ctx, org, pagopa.ListOptions{Page: page, Limit: 50, Status: pagopa.StatusPaid})
		if err != nil {
			t.Fatal(err)
		}
		npaid += len(pp.Positions)
		if page+1 >= pp.PageInfo.TotalPages {
			break
		}
	}
	if npaid != 30 {
		t.Errorf("%d positions PAID, want 30", npaid)
	}
	if _, n := e.tr.Checked(); n < 100 {
		t.Errorf("only %d GPD exchanges validated against the contract", n)
	}
}
