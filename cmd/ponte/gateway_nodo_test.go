package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

// TestNodoEndpointStoresReceipts calls the EC endpoint 'ponte serve' mounts
// for a tenant as the Nodo would, over SOAP: a pushed receipt is stored once
// for reconciliation, a second delivery is a duplicate, and a notice the
// gateway does not hold (positions live on GPD) is unknown.
func TestNodoEndpointStoresReceipts(t *testing.T) {
	ctx := context.Background()
	path, err := tenant.WriteSample(t.TempDir(), map[string]string{"GPDURL": "http://127.0.0.1:1", "IOURL": "http://127.0.0.1:1/api/v1"})
	if err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := reconcile.NewStore(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := mountNodo(mux, []*tenant.Tenant{tn}, st, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(mux)
	defer srv.Close()

	c := nodo.NewClient(srv.URL+"/t/"+tn.ID+"/pagopa/nodo", "80012345676", tn.PagoPA.StationID, nil)
	iuv, err := pagopa.NewIUV("01", "0000000000042")
	if err != nil {
		t.Fatal(err)
	}
	r := pagopa.Receipt{ReceiptID: "PSP-1", IUV: iuv, NAV: "3" + iuv, OrgFiscalCode: tn.FiscalCode, Outcome: "OK", AmountCents: 6780,
		Description: "TARI 2026", CompanyName: "Comune di Esempio",
		Debtor: pagopa.Party{FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"}, PSP: pagopa.PSP{ID: "BCITITMM", Name: "Intesa", Channel: "BCITITMM_01"},
		PaymentDate: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC),
		Transfers:   []pagopa.ReceiptTransfer{{ID: 1, AmountCents: 6780, OrgFiscalCode: tn.FiscalCode, IBAN: tn.PagoPA.IBAN, Remittance: "TARI", Category: "9/0101100IM/"}}}
	if _, err := c.SendRTV2(ctx, r); err != nil {
		t.Fatalf("paSendRTV2: %v", err)
	}
	var fe *nodo.FaultError
	if _, err := c.SendRTV2(ctx, r); !errors.As(err, &fe) || fe.Code != "PAA_RECEIPT_DUPLICATA" {
		t.Errorf("second paSendRTV2: %v, want PAA_RECEIPT_DUPLICATA", err)
	}
	if _, err := c.Verify(ctx, tn.FiscalCode, r.NAV); !errors.As(err, &fe) || fe.Code != "PAA_PAGAMENTO_SCONOSCIUTO" {
		t.Errorf("paVerifyPaymentNotice: %v, want PAA_PAGAMENTO_SCONOSCIUTO", err)
	}
	got, err := st.Receipts(ctx, tn.FiscalCode)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].IUV != iuv || got[0].AmountCents != 6780 {
		t.Errorf("stored receipts: %+v", got)
	}
}
