package nodomock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/connectors/pagopa/nodo"
	"github.com/ponte-pa/ponte/connectors/pagopa/pagopatest"
	"github.com/ponte-pa/ponte/mocks/gpd"
	nodomock "github.com/ponte-pa/ponte/mocks/nodo"
)

const (
	specPath = "../../../shared/specs/gpd-external-v1.json"
	org      = "01234567890"
	key      = "k"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func gpdEnv(t *testing.T) (*gpd.Server, *pagopa.GPDClient, *pagopatest.Transport) {
	t.Helper()
	m := gpd.New(gpd.Options{SubscriptionKeys: []string{key}, Logger: quiet})
	srv := httptest.NewServer(m)
	t.Cleanup(srv.Close)
	tr := pagopatest.NewTransport(t, specPath)
	c := pagopa.NewGPDClient(pagopa.GPDOptions{BaseURL: srv.URL, SubscriptionKey: key,
		HTTPClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}, Logger: quiet})
	return m, c, tr
}

func iuv(t testing.TB, n int) string {
	s, err := pagopa.NewIUV("01", fmt.Sprintf("%013d", n))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func position(t testing.TB, n int) pagopa.PaymentPosition {
	amount := int64(1000 + 37*n) // distinct amounts, so a mix-up shows
	return pagopa.PaymentPosition{
		IUPD: fmt.Sprintf("TARI-2026-%06d", n), Type: pagopa.TypePerson,
		FiscalCode: "RSSMRA80A01H501U", FullName: "Mario Rossi", CompanyName: "Comune di Prova",
		PaymentOption: []pagopa.PaymentOption{{
			IUV: iuv(t, n), Amount: amount, Description: "TARI 2026", DueDate: time.Now().AddDate(0, 1, 0).UTC().Truncate(time.Second),
			Transfer: []pagopa.Transfer{{IDTransfer: "1", Amount: amount, RemittanceInformation: "TARI 2026",
				Category: "9/0101100IM/", IBAN: "IT60X0542811101000000123456"}},
		}},
	}
}

// TestEndToEndGPD: 100 positions created and published on the GPD mock, 30
// paid through the Nodo simulator, receipts fetched with the GPD client.
func TestEndToEndGPD(t *testing.T) {
	m, c, tr := gpdEnv(t)
	ctx := context.Background()
	sim := nodomock.New(nodomock.Options{GPD: m, Logger: quiet})
	amounts := map[string]int64{}
	var navs []string
	for i := 1; i <= 100; i++ {
		p, err := c.Create(ctx, org, position(t, i), true)
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
	for i := 0; i < 100; i += 3 { // 34 candidates; stop at 30
		if len(paid) == 30 {
			break
		}
		r, err := sim.PayGPD(ctx, org, navs[i])
		if err != nil {
			t.Fatal(err)
		}
		if r.AmountCents != amounts[r.IUV] || r.NAV != navs[i] {
			t.Fatalf("receipt %+v", r)
		}
		paid[r.IUV] = true
	}
	// A second payment of a paid notice is refused and leaves no receipt.
	if _, err := sim.PayGPD(ctx, org, navs[0]); !errors.Is(err, gpd.ErrAlreadyPaid) {
		t.Errorf("second payment: %v", err)
	}
	receipts, err := c.AllReceipts(ctx, org, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(receipts) != 30 {
		t.Fatalf("%d receipts, want 30", len(receipts))
	}
	seen := map[string]bool{}
	var total, want int64
	for _, r := range receipts {
		if seen[r.IUV] {
			t.Errorf("duplicate IUV %s", r.IUV)
		}
		seen[r.IUV] = true
		if !paid[r.IUV] {
			t.Errorf("receipt for unpaid IUV %s", r.IUV)
		}
		if r.AmountCents != amounts[r.IUV] || r.Transfers[0].AmountCents != amounts[r.IUV] {
			t.Errorf("IUV %s: amount %d, want %d", r.IUV, r.AmountCents, amounts[r.IUV])
		}
		if r.Source != pagopa.SourceGPD || r.PSP.ID != "MOCKPSP" {
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
	// GPD agrees: exactly 30 positions PAID.
	npaid := 0
	for page := 0; page < 10; page++ {
		pp, err := c.List(ctx, org, pagopa.ListOptions{Page: page, Limit: 50, Status: pagopa.StatusPaid})
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
	ps := sim.Payments()
	if len(ps) != 31 || ps[30].Outcome != "KO" || ps[30].FaultCode != nodo.CodePagamentoDuplicato || ps[0].Receipt == nil {
		t.Errorf("payments: %d, last %+v", len(ps), ps[len(ps)-1])
	}
	if tr.Checked() < 100 {
		t.Errorf("only %d GPD exchanges validated against the spec", tr.Checked())
	}
}

func ecEnv(t *testing.T) (*nodo.MemoryBackend, string) {
	t.Helper()
	be := nodo.NewMemoryBackend(nil)
	for i := 1; i <= 3; i++ {
		v := iuv(t, i)
		err := be.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: "3" + v, Payment: nodo.Payment{
			IUV: v, AmountCents: int64(2000 * i), DueDate: time.Now().AddDate(0, 1, 0), Description: "Mensa scolastica",
			CompanyName: "Comune di Prova", Debtor: pagopa.Party{Type: "F", FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"},
			Transfers: []pagopa.ReceiptTransfer{{ID: 1, AmountCents: int64(2000 * i), OrgFiscalCode: org, IBAN: "IT60X0542811101000000123456", Remittance: "Mensa"}}}})
		if err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(nodo.NewHandler(be, nodo.Options{BrokerID: "15376371009", StationID: "15376371009_01", Logger: quiet}))
	t.Cleanup(srv.Close)
	return be, srv.URL
}

// TestEndToEndSOAP: the simulator pays a notice on the EC handler; the
// receipt reaches the backend; paying again gives PAA_PAGAMENTO_DUPLICATO.
func TestEndToEndSOAP(t *testing.T) {
	be, url := ecEnv(t)
	ctx := context.Background()
	sim := nodomock.New(nodomock.Options{BrokerID: "15376371009", StationID: "15376371009_01", Logger: quiet,
		Payer: pagopa.Party{FiscalCode: "BNCNNA85M41F205X", Name: "Anna Bianchi"}})
	nav := "3" + iuv(t, 2)
	r, err := sim.PayEC(ctx, url, org, nav)
	if err != nil {
		t.Fatal(err)
	}
	got := be.Receipts()
	if len(got) != 1 || got[0].ReceiptID != r.ReceiptID || got[0].AmountCents != 4000 || got[0].IUV != iuv(t, 2) ||
		got[0].Payer.FiscalCode != "BNCNNA85M41F205X" || got[0].Debtor.FiscalCode != "RSSMRA80A01H501U" || got[0].Source != "nodo" {
		t.Fatalf("backend receipts: %+v", got)
	}
	_, err = sim.PayEC(ctx, url, org, nav)
	if !errors.Is(err, nodo.ErrDuplicate) {
		t.Fatalf("second payment: %v", err)
	}
	ps := sim.Payments()
	if len(ps) != 2 {
		t.Fatalf("%d payments", len(ps))
	}
	if s := strings.Join(ps[0].Steps, ","); s != "paVerifyPaymentNotice OK,paGetPaymentV2 OK,paSendRTV2 OK" {
		t.Errorf("steps %s", s)
	}
	if ps[1].FaultCode != nodo.CodePagamentoDuplicato || strings.Join(ps[1].Steps, ",") != "paVerifyPaymentNotice KO PAA_PAGAMENTO_DUPLICATO" {
		t.Errorf("second payment record %+v", ps[1])
	}
	if n := len(be.Receipts()); n != 1 {
		t.Errorf("%d receipts after the refused payment", n)
	}
	// Unknown notice and wrong station.
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(t, 9)); !errors.Is(err, nodo.ErrUnknown) {
		t.Errorf("unknown notice: %v", err)
	}
	other := nodomock.New(nodomock.Options{BrokerID: "15376371009", StationID: "nope", Logger: quiet})
	var fe *nodo.FaultError
	if _, err := other.PayEC(ctx, url, org, "3"+iuv(t, 1)); !errors.As(err, &fe) || fe.Code != nodo.CodeStazioneIntErrata {
		t.Errorf("wrong station: %v", err)
	}
}

func TestFaultKnobs(t *testing.T) {
	be, url := ecEnv(t)
	ctx := context.Background()
	sim := nodomock.New(nodomock.Options{BrokerID: "15376371009", StationID: "15376371009_01", Logger: quiet})
	sim.FailNext(1)
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(t, 1)); !errors.Is(err, nodomock.ErrPSPFailure) {
		t.Fatalf("FailNext: %v", err)
	}
	if len(be.Receipts()) != 0 {
		t.Fatal("an aborted payment reached the EC")
	}
	sim.DuplicateReceiptNext(1)
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(t, 1)); err != nil {
		t.Fatal(err)
	}
	ps := sim.Payments()
	last := ps[len(ps)-1]
	if s := last.Steps[len(last.Steps)-1]; s != "paSendRTV2 (again) KO PAA_RECEIPT_DUPLICATA" {
		t.Errorf("duplicate receipt step %q", s)
	}
	if len(be.Receipts()) != 1 {
		t.Errorf("%d receipts after a duplicate delivery", len(be.Receipts()))
	}
	sim.SetErrorRate(1, 7)
	if _, err := sim.PayEC(ctx, url, org, "3"+iuv(t, 2)); !errors.Is(err, nodomock.ErrPSPFailure) {
		t.Errorf("error rate 1: %v", err)
	}
	sim.SetErrorRate(0, 0)
	if _, err := sim.PayGPD(ctx, org, "3"+iuv(t, 2)); !errors.Is(err, nodomock.ErrNoGPD) {
		t.Errorf("no GPD: %v", err)
	}
	sim.Reset()
	if len(sim.Payments()) != 0 {
		t.Error("Reset kept payments")
	}
}

func TestHTTPTrigger(t *testing.T) {
	be, url := ecEnv(t)
	m, _, _ := gpdEnv(t)
	sim := nodomock.New(nodomock.Options{GPD: m, BrokerID: "15376371009", StationID: "15376371009_01", Logger: quiet})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	pay := func(body string) (int, nodomock.Payment) {
		resp, err := http.Post(srv.URL+"/__mock/pay", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var p nodomock.Payment
		_ = json.NewDecoder(resp.Body).Decode(&p)
		return resp.StatusCode, p
	}
	code, p := pay(`{"kind":"ec","org":"` + org + `","nav":"3` + iuv(t, 3) + `","ecUrl":"` + url + `"}`)
	if code != 200 || p.Outcome != "OK" || p.Receipt == nil || p.Receipt.AmountCents != 6000 {
		t.Errorf("pay ec: %d %+v", code, p)
	}
	if len(be.Receipts()) != 1 {
		t.Error("no receipt at the EC")
	}
	code, p = pay(`{"kind":"ec","org":"` + org + `","nav":"3` + iuv(t, 3) + `","ecUrl":"` + url + `"}`)
	if code != 409 || p.FaultCode != nodo.CodePagamentoDuplicato {
		t.Errorf("pay again: %d %+v", code, p)
	}
	code, p = pay(`{"kind":"gpd","org":"` + org + `","nav":"3` + iuv(t, 3) + `"}`)
	if code != 409 || p.FaultCode != nodo.CodePagamentoSconosciuto {
		t.Errorf("pay unknown on gpd: %d %+v", code, p)
	}
	for _, bad := range []string{`{`, `{"kind":"cash"}`, `{"kind":"ec","org":"x","nav":"y"}`, `{"kind":"gpd","extra":1}`} {
		if code, _ := pay(bad); code != 400 {
			t.Errorf("%s: %d, want 400", bad, code)
		}
	}
	resp, err := http.Get(srv.URL + "/__mock/payments")
	if err != nil {
		t.Fatal(err)
	}
	var ps []nodomock.Payment
	_ = json.NewDecoder(resp.Body).Decode(&ps)
	resp.Body.Close()
	if len(ps) != 3 {
		t.Errorf("%d payments listed, want 3", len(ps))
	}
	resp, err = http.Post(srv.URL+"/__mock/reset", "", bytes.NewReader(nil))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 || len(sim.Payments()) != 0 {
		t.Errorf("reset: %d", resp.StatusCode)
	}
}

func BenchmarkPayEC(b *testing.B) {
	be := nodo.NewMemoryBackend(nil)
	srv := httptest.NewServer(nodo.NewHandler(be, nodo.Options{Logger: quiet}))
	defer srv.Close()
	sim := nodomock.New(nodomock.Options{Logger: quiet})
	ctx := context.Background()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		v := iuv(b, i)
		_ = be.Add(nodo.MemoryNotice{OrgFiscalCode: org, NAV: "3" + v, Payment: nodo.Payment{IUV: v, AmountCents: 1000,
			Debtor:    pagopa.Party{FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"},
			Transfers: []pagopa.ReceiptTransfer{{ID: 1, AmountCents: 1000, OrgFiscalCode: org, IBAN: "IT60X0542811101000000123456", Remittance: "x"}}}})
		if _, err := sim.PayEC(ctx, srv.URL, org, "3"+v); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
}
