package gpd

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

func TestReceiptsHTTP(t *testing.T) {
	h := newHarness(t, "k")
	var made pagopa.PaymentPosition
	if c := h.do("POST", path("")+"?toPublish=true", h.position(1, 3000, 2000), &made); c != 201 {
		t.Fatalf("create: %d", c)
	}
	nav := made.PaymentOption[1].NAV
	r, err := h.s.PayWith(org, nav, PaymentInfo{PSP: pagopa.PSP{ID: "PSP1", Name: "Banca"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.AmountCents != 2000 || r.IUV != made.PaymentOption[1].IUV || r.Payer.FiscalCode != "RSSMRA80A01H501U" || !r.PaymentDate.Equal(h.clock.Now()) {
		t.Errorf("receipt %+v", r)
	}
	if p, _ := h.s.Position(org, "IUPD-1"); p.Status != pagopa.StatusPartiallyPaid || p.PaymentOption[1].IDReceipt != r.ReceiptID || p.PaymentOption[1].PSPCompany != "Banca" {
		t.Errorf("position after the installment: %s %+v", p.Status, p.PaymentOption[1])
	}
	// The receipt XML.
	req, _ := http.NewRequest("GET", h.srv.URL+"/payments/"+org+"/receipts/"+r.IUV, nil)
	req.Header.Set(pagopa.SubscriptionKeyHeader, "k")
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/xml" {
		t.Fatalf("get receipt: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var x pagopa.XMLReceipt
	if err := xml.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	if got, err := x.Receipt(pagopa.SourceGPD); err != nil || got.ReceiptID != r.ReceiptID || got.AmountCents != 2000 || got.PSP.ID != "PSP1" {
		t.Errorf("decoded %+v %v", got, err)
	}
	// Key required; unknown IUV is 404; bad paging is 400.
	if c := h.do("GET", "/payments/"+org+"/receipts", nil, nil, ""); c != 401 {
		t.Errorf("no key: %d", c)
	}
	if c := h.do("GET", "/payments/"+org+"/receipts/01999", nil, nil); c != 404 {
		t.Errorf("unknown: %d", c)
	}
	for _, q := range []string{"limit=0", "limit=101", "page=-1", "from=2026-13-01", "to=x"} {
		if c := h.do("GET", "/payments/"+org+"/receipts?"+q, nil, nil); c != 400 {
			t.Errorf("%s: %d", q, c)
		}
	}
	var page struct {
		List []struct {
			IUV    string `json:"iuv"`
			Debtor string `json:"debtor"`
		} `json:"receipts_list"`
		PageInfo pagopa.PageInfo `json:"page_info"`
	}
	if c := h.do("GET", "/payments/"+org+"/receipts?debtor=RSSMRA80A01H501U", nil, &page); c != 200 || len(page.List) != 1 || page.List[0].IUV != r.IUV {
		t.Errorf("list: %d %+v", c, page)
	}
	// Pay the other installment; a third attempt is refused.
	if err := h.s.Pay(org, made.PaymentOption[0].NAV); err != nil {
		t.Fatal(err)
	}
	if err := h.s.Pay(org, made.PaymentOption[0].NAV); !errors.Is(err, ErrAlreadyPaid) {
		t.Errorf("again: %v", err)
	}
	if p, _ := h.s.Position(org, "IUPD-1"); p.Status != pagopa.StatusPaid {
		t.Errorf("status %s", p.Status)
	}
	// Inspection.
	resp, err = http.Get(h.srv.URL + "/__mock/receipts?org=" + org)
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Count(string(b), `"receiptId"`) != 2 {
		t.Errorf("/__mock/receipts: %s", b)
	}
	h.s.Reset()
	if len(h.s.Receipts(org)) != 0 {
		t.Error("Reset kept receipts")
	}
}
