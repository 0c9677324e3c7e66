package nodo_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
)

// recorder is a ReceiptRecorder in memory, keyed like the reconciliation
// store: organization and receipt id.
type recorder struct {
	mu   sync.Mutex
	got  []pagopa.Receipt
	seen map[string]bool
	err  error // returned by every call when set
}

func (r *recorder) RecordReceipt(_ context.Context, rc pagopa.Receipt) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return false, r.err
	}
	if r.seen == nil {
		r.seen = map[string]bool{}
	}
	k := rc.OrgFiscalCode + "|" + rc.ReceiptID
	if r.seen[k] {
		return false, nil
	}
	r.seen[k] = true
	r.got = append(r.got, rc)
	return true, nil
}

func (r *recorder) receipts() []pagopa.Receipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pagopa.Receipt(nil), r.got...)
}

func TestReceiptBackendStoresOnce(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	b := &nodo.ReceiptBackend{Receipts: rec}
	r := receiptFor(iuv1, nav1, 12050, "rcpt-1")
	r.Source = pagopa.SourceGPD // whatever the caller says, it came from the Nodo
	if err := b.SendRT(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := b.SendRT(ctx, r); !errors.Is(err, nodo.ErrReceiptDup) {
		t.Errorf("same receipt again: %v, want PAA_RECEIPT_DUPLICATA", err)
	}
	// A receipt the ente did not expect (another amount) is still kept:
	// the money was collected, reconciliation reports the anomaly.
	if err := b.SendRT(ctx, receiptFor(iuv1, nav1, 100, "rcpt-2")); err != nil {
		t.Errorf("receipt with another amount: %v, want it stored", err)
	}
	got := rec.receipts()
	if len(got) != 2 || got[0].ReceiptID != "rcpt-1" || got[0].Source != pagopa.SourceNodo || got[0].AmountCents != 12050 ||
		got[1].ReceiptID != "rcpt-2" || got[1].AmountCents != 100 {
		t.Errorf("recorded: %+v", got)
	}
}

func TestReceiptBackendRejectsInconsistentReceipt(t *testing.T) {
	rec := &recorder{}
	r := receiptFor(iuv1, nav1, 1000, "BAD-1")
	r.Transfers[0].AmountCents = 900 // transfers do not add up
	var fe *nodo.FaultError
	if err := (&nodo.ReceiptBackend{Receipts: rec}).SendRT(context.Background(), r); !errors.As(err, &fe) || fe.Code != nodo.CodeSemantica {
		t.Fatalf("want PAA_SEMANTICA, got %v", err)
	}
	if got := rec.receipts(); len(got) != 0 {
		t.Errorf("an inconsistent receipt was stored: %+v", got)
	}
}

// TestReceiptBackendOverSOAP: on the EC endpoint, a store that fails is
// PAA_SYSTEM_ERROR (the Nodo delivers the receipt again later); verify and
// activation go to Next, or are unknown without one.
func TestReceiptBackendOverSOAP(t *testing.T) {
	ctx := context.Background()
	mem := nodo.NewMemoryBackend(nil)
	if err := mem.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: nav1, Payment: payment(iuv1, 12050)}); err != nil {
		t.Fatal(err)
	}
	rec := &recorder{err: errors.New("database is down")}
	for _, tc := range []struct {
		name       string
		next       nodo.Backend
		verifyCode string // "" for OK
	}{
		{"with Next", mem, ""},
		{"without Next", nil, nodo.CodePagamentoSconosciuto},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptestServer(t, nodo.NewHandler(&nodo.ReceiptBackend{Next: tc.next, Receipts: rec}, nodo.Options{Logger: quiet}))
			c := nodo.NewClient(srv.URL, broker, statn, srv.Client())
			v, err := c.Verify(ctx, org, nav1)
			if tc.verifyCode == "" {
				if err != nil || v.PaymentList == nil || v.PaymentList.Option.Amount != 12050 {
					t.Errorf("verify: %+v %v", v, err)
				}
				if g, err := c.GetPaymentV2(ctx, org, nav1, 0); err != nil || g.Data.CreditorReferenceID != iuv1 {
					t.Errorf("activation: %+v %v", g, err)
				}
			} else {
				var fe *nodo.FaultError
				if !errors.As(err, &fe) || fe.Code != tc.verifyCode {
					t.Errorf("verify: %v, want %s", err, tc.verifyCode)
				}
				if _, err := c.GetPaymentV2(ctx, org, nav1, 0); !errors.As(err, &fe) || fe.Code != tc.verifyCode {
					t.Errorf("activation: %v, want %s", err, tc.verifyCode)
				}
			}
			var fe *nodo.FaultError
			if _, err := c.SendRTV2(ctx, receiptFor(iuv1, nav1, 12050, "rcpt-1")); !errors.As(err, &fe) || fe.Code != nodo.CodeSystemError {
				t.Errorf("receipt with the store down: %v, want PAA_SYSTEM_ERROR", err)
			}
		})
	}
}

func TestReceiptBackendWithoutRecorder(t *testing.T) {
	err := (&nodo.ReceiptBackend{}).SendRT(context.Background(), receiptFor(iuv1, nav1, 12050, "rcpt-1"))
	var fe *nodo.FaultError
	if err == nil || errors.As(err, &fe) {
		t.Errorf("got %v, want a plain error (answered PAA_SYSTEM_ERROR)", err)
	}
}

func httptestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}
