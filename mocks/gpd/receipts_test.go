package gpd

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestReceiptsHTTP(t *testing.T) {
	h := newHarness(t, "k")
	var made Position
	if c := h.do("POST", path("")+"?toPublish=true", h.position(1, 3000, 2000), &made); c != 201 {
		t.Fatalf("create: %d", c)
	}
	nav := made.PaymentOption[1].NAV
	r, err := h.s.PayWith(org, nav, PaymentInfo{PSP: PSP{ID: "PSP1", Name: "Banca"}})
	if err != nil {
		t.Fatal(err)
	}
	if r.AmountCents != 2000 || r.IUV != made.PaymentOption[1].IUV || r.Payer.FiscalCode != "RSSMRA80A01H501U" || !r.PaymentDate.Equal(h.clock.Now()) {
		t.Errorf("receipt %+v", r)
	}
	if p, ok := h.s.Position(org, "IUPD-1"); !ok || p.Status != StatusPartiallyPaid || p.PaymentOption[1].IDReceipt != r.ReceiptID || p.PaymentOption[1].PSPCompany != "Banca" {
		t.Errorf("position after the installment: %s %+v", p.Status, p.PaymentOption[1])
	}
	// The receipt document.
	code, b := h.send("GET", "/payments/"+org+"/receipts/"+r.IUV, nil)
	if code != 200 || !strings.HasPrefix(string(b), "<?xml") {
		t.Fatalf("get receipt: %d %s", code, b)
	}
	var x XMLReceipt
	if err := xml.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	if x.PaymentAmount != 2000 || x.TransferList[0].TransferAmount != 2000 || !strings.Contains(string(b), "<paymentAmount>20.00</paymentAmount>") {
		t.Errorf("document %s", b)
	}
	got, err := x.Receipt()
	if err != nil || got.ReceiptID != r.ReceiptID || got.AmountCents != 2000 || got.PSP.ID != "PSP1" || !got.PaymentDate.Equal(r.PaymentDate) {
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
		PageInfo PageInfo `json:"page_info"`
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
	if p, ok := h.s.Position(org, "IUPD-1"); !ok || p.Status != StatusPaid {
		t.Errorf("status %s", p.Status)
	}
	// Inspection.
	resp, err := http.Get(h.srv.URL + "/__mock/receipts?org=" + org)
	if err != nil {
		t.Fatal(err)
	}
	b, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(b), `"receiptId"`) != 2 {
		t.Errorf("/__mock/receipts: %s %v", b, err)
	}
	h.s.Reset()
	if len(h.s.Receipts(org)) != 0 {
		t.Error("Reset kept receipts")
	}
}

func TestAmountText(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want Amount
		ok   bool
	}{{"100.00", 10000, true}, {"12.5", 1250, true}, {"7", 700, true}, {"1.234", 0, false}, {"-1.00", 0, false}, {"x", 0, false}, {"3.", 0, false}} {
		var a Amount
		err := a.UnmarshalText([]byte(tt.in))
		if (err == nil) != tt.ok || a != tt.want {
			t.Errorf("%q: %d %v", tt.in, a, err)
		}
	}
	if b, err := Amount(10005).MarshalText(); err != nil || string(b) != "100.05" {
		t.Errorf("MarshalText: %s %v", b, err)
	}
}
