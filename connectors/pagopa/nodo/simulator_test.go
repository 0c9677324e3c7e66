package nodo_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/mocks/gpd"
	nodomock "github.com/ponte-pa/ponte/mocks/nodo"
)

// simIUV is the n-th IUV of segregation code 01, with its check digits.
func simIUV(t testing.TB, n int) string {
	v, err := pagopa.NewIUV("01", fmt.Sprintf("%013d", n))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestEndpointAgainstTheNodoSimulator: the Nodo simulator, which judges
// answers by the contract and shares no code with this package, pays
// notices on the EC endpoint; the receipt reaches the backend, paying again
// gives PAA_PAGAMENTO_DUPLICATO, a receipt delivered twice
// PAA_RECEIPT_DUPLICATA.
func TestEndpointAgainstTheNodoSimulator(t *testing.T) {
	be := nodo.NewMemoryBackend(nil)
	for i := 1; i <= 3; i++ {
		v := simIUV(t, i)
		p := payment(v, int64(2000*i))
		p.DueDate = time.Now().AddDate(0, 1, 0)
		if err := be.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: "3" + v, Payment: p}); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(nodo.NewHandler(be, nodo.Options{BrokerID: broker, StationID: statn, Logger: quiet}))
	defer srv.Close()
	ctx := context.Background()
	sim := nodomock.New(nodomock.Options{BrokerID: broker, StationID: statn, Logger: quiet,
		Payer: gpd.Party{FiscalCode: "BNCNNA85M41F205X", Name: "Anna Bianchi"}})
	nav := "3" + simIUV(t, 2)
	r, err := sim.PayEC(ctx, srv.URL, org, nav)
	if err != nil {
		t.Fatal(err)
	}
	got := be.Receipts()
	if len(got) != 1 || got[0].ReceiptID != r.ReceiptID || got[0].AmountCents != 4000 || got[0].IUV != simIUV(t, 2) ||
		got[0].Payer.FiscalCode != "BNCNNA85M41F205X" || got[0].Debtor.FiscalCode != "RSSMRA80A01H501U" || got[0].Source != pagopa.SourceNodo ||
		len(got[0].Transfers) != 2 {
		t.Fatalf("backend receipts: %+v", got)
	}
	var fe *nodomock.FaultError
	if _, err := sim.PayEC(ctx, srv.URL, org, nav); !errors.As(err, &fe) || fe.Code != nodo.CodePagamentoDuplicato {
		t.Fatalf("second payment: %v", err)
	}
	sim.DuplicateReceiptNext(1)
	if _, err := sim.PayEC(ctx, srv.URL, org, "3"+simIUV(t, 1)); err != nil {
		t.Fatal(err)
	}
	ps := sim.Payments()
	if len(ps) != 3 || strings.Join(ps[0].Steps, ",") != "paVerifyPaymentNotice OK,paGetPaymentV2 OK,paSendRTV2 OK" ||
		ps[2].Steps[len(ps[2].Steps)-1] != "paSendRTV2 (again) KO "+nodo.CodeReceiptDuplicata {
		t.Errorf("payments %+v", ps)
	}
	if n := len(be.Receipts()); n != 2 {
		t.Errorf("%d receipts, want 2", n)
	}
	if _, err := sim.PayEC(ctx, srv.URL, org, "3"+simIUV(t, 9)); !errors.As(err, &fe) || fe.Code != nodo.CodePagamentoSconosciuto {
		t.Errorf("unknown notice: %v", err)
	}
	// A station configured for the V1 primitives: paGetPayment, paSendRT.
	v1 := nodomock.New(nodomock.Options{BrokerID: broker, StationID: statn, Logger: quiet, V1: true})
	if _, err := v1.PayEC(ctx, srv.URL, org, "3"+simIUV(t, 3)); err != nil {
		t.Fatalf("V1 payment: %v", err)
	}
	if ps := v1.Payments(); len(ps) != 1 || strings.Join(ps[0].Steps, ",") != "paVerifyPaymentNotice OK,paGetPayment OK,paSendRT OK" {
		t.Errorf("V1 payments %+v", ps)
	}
	if n := len(be.Receipts()); n != 3 {
		t.Errorf("%d receipts after the V1 payment, want 3", n)
	}
	other := nodomock.New(nodomock.Options{BrokerID: broker, StationID: "nope", Logger: quiet})
	if _, err := other.PayEC(ctx, srv.URL, org, "3"+simIUV(t, 3)); !errors.As(err, &fe) || fe.Code != nodo.CodeStazioneIntErrata {
		t.Errorf("wrong station: %v", err)
	}
}
