package pagopa_test

import (
	"context"
	"encoding/xml"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/pagopa"
	"github.com/ponte-pa/ponte/mocks/gpd"
)

func TestReceiptsGetAndList(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	var navs []string
	for i := 1; i <= 7; i++ {
		p, err := e.client.Create(ctx, org, position(t, i), true)
		if err != nil {
			t.Fatal(err)
		}
		navs = append(navs, p.PaymentOption[0].NAV)
	}
	at := time.Date(2026, 5, 4, 10, 30, 0, 0, time.UTC)
	for i, nav := range navs[:5] {
		if _, err := e.mock.PayWith(org, nav, gpd.PaymentInfo{At: at.Add(time.Duration(i) * time.Hour),
			PSP:   gpd.PSP{ID: "BCITITMM", Name: "Intesa Sanpaolo", Channel: "BCITITMM_01"},
			Payer: gpd.Party{FiscalCode: "BNCNNA85M41F205X", Name: "Anna Bianchi"}}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := e.client.GetReceipt(ctx, org, iuv(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	want := pagopa.Receipt{IUV: iuv(t, 1), NAV: "3" + iuv(t, 1), OrgFiscalCode: org, Outcome: "OK", AmountCents: 12050,
		PSP: pagopa.PSP{ID: "BCITITMM", Name: "Intesa Sanpaolo", Channel: "BCITITMM_01"}, Source: pagopa.SourceGPD}
	if r.IUV != want.IUV || r.NAV != want.NAV || r.OrgFiscalCode != org || r.AmountCents != want.AmountCents ||
		r.PSP != want.PSP || r.Source != "gpd" || r.Outcome != "OK" || r.ReceiptID == "" {
		t.Errorf("receipt = %+v", r)
	}
	if r.Payer.FiscalCode != "BNCNNA85M41F205X" || r.Payer.Name != "Anna Bianchi" || r.Debtor.FiscalCode != "RSSMRA80A01H501U" {
		t.Errorf("payer %+v debtor %+v", r.Payer, r.Debtor)
	}
	if !r.PaymentDate.Equal(at) {
		t.Errorf("payment date %v, want %v", r.PaymentDate, at)
	}
	if len(r.Transfers) != 2 || r.Transfers[0].AmountCents != 10000 || r.Transfers[1].OrgFiscalCode != "80000000000" ||
		r.Transfers[0].IBAN != "IT60X0542811101000000123456" || r.Transfers[1].Remittance != "TEFA 2026" || r.Transfers[0].OrgFiscalCode != org {
		t.Errorf("transfers %+v", r.Transfers)
	}
	// Unpaid and unknown IUVs have no receipt.
	for _, n := range []int{6, 99} {
		_, err := e.client.GetReceipt(ctx, org, iuv(t, n))
		if !pagopa.IsNotFound(err) {
			t.Errorf("iuv %d: want not found, got %v", n, err)
		}
	}
	// Paging.
	p, err := e.client.ListReceipts(ctx, org, pagopa.ReceiptListOptions{Page: 1, Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.PageInfo.TotalPages != 3 || len(p.Receipts) != 2 || p.Receipts[0].IUV != iuv(t, 3) || p.Receipts[0].Debtor != "RSSMRA80A01H501U" {
		t.Errorf("page 1 = %+v", p)
	}
	p, err = e.client.ListReceipts(ctx, org, pagopa.ReceiptListOptions{From: at.AddDate(0, 0, 1), To: at})
	if err != nil || len(p.Receipts) != 0 {
		t.Errorf("empty date range: %+v %v", p, err)
	}
	p, err = e.client.ListReceipts(ctx, org, pagopa.ReceiptListOptions{From: at, To: at, Debtor: "RSSMRA80A01H501U"})
	if err != nil || len(p.Receipts) != 5 {
		t.Errorf("same-day range: %+v %v", p, err)
	}
	if _, err := e.client.ListReceipts(ctx, org, pagopa.ReceiptListOptions{Limit: 101}); pagopa.KindOf(err) != pagopa.KindValidation {
		t.Errorf("limit 101: %v", err)
	}
	all, err := e.client.AllReceipts(ctx, org, 0)
	if err != nil || len(all) != 5 {
		t.Fatalf("all receipts: %d %v", len(all), err)
	}
	// Paying again is refused and does not add a receipt.
	if err := e.mock.Pay(org, navs[0]); !errors.Is(err, gpd.ErrAlreadyPaid) {
		t.Errorf("second payment: %v", err)
	}
	if n := len(e.mock.Receipts(org)); n != 5 {
		t.Errorf("mock holds %d receipts, want 5", n)
	}
	// "Already paid" outside pagoPA leaves no receipt.
	if _, err := e.client.MarkPaid(ctx, org, navs[5]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.client.GetReceipt(ctx, org, iuv(t, 6)); !pagopa.IsNotFound(err) {
		t.Errorf("mark-paid made a receipt: %v", err)
	}
	if _, n := e.tr.Checked(); n == 0 {
		t.Error("no exchange validated against the spec")
	}
}

func TestReceiptsRetryOn500(t *testing.T) {
	e := newEnv(t, gpd.Options{})
	ctx := context.Background()
	p, err := e.client.Create(ctx, org, position(t, 1), true)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.mock.Pay(org, p.PaymentOption[0].NAV); err != nil {
		t.Fatal(err)
	}
	e.mock.Faults().FailNext(1, 503)
	if _, err := e.client.GetReceipt(ctx, org, iuv(t, 1)); err != nil {
		t.Errorf("one 503 should be retried: %v", err)
	}
	e.mock.Faults().FailNext(5, 503)
	if _, err := e.client.GetReceipt(ctx, org, iuv(t, 1)); !failure.IsRetryable(err) {
		t.Errorf("want retryable, got %v", err)
	}
}

func TestParseAmount(t *testing.T) {
	cases := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true}, {"1", 100, true}, {"1.5", 150, true}, {"100.00", 10000, true}, {"999999999.99", 99999999999, true},
		{"", 0, false}, {"1.", 0, false}, {".5", 0, false}, {"1.234", 0, false}, {"-1.00", 0, false},
		{"1,00", 0, false}, {"1e3", 0, false}, {"1000000000.00", 0, false}, {" 12.30 ", 1230, true},
	}
	for _, c := range cases {
		got, err := pagopa.ParseAmount(c.in)
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("ParseAmount(%q) = %d, %v; want %d ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
	b, err := pagopa.Amount(5).MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != "0.05" {
		t.Errorf("Amount(5) = %s", b)
	}
}

func sampleReceipt() pagopa.Receipt {
	return pagopa.Receipt{ReceiptID: "r1", IUV: "01000000000000144", NAV: "301000000000000144", OrgFiscalCode: org,
		Outcome: "OK", AmountCents: 3000, Debtor: pagopa.Party{Type: "F", FiscalCode: "RSSMRA80A01H501U", Name: "Mario Rossi"},
		PSP: pagopa.PSP{ID: "P", Name: "PSP", Channel: "C"}, PaymentDate: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Transfers: []pagopa.ReceiptTransfer{{ID: 1, AmountCents: 3000, OrgFiscalCode: org, IBAN: "IT60X0542811101000000123456", Remittance: "x"}}}
}

func TestReceiptXMLRoundTripAndCheck(t *testing.T) {
	r := sampleReceipt()
	b, err := pagopa.MarshalReceiptXML(pagopa.NewXMLReceipt(r))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<paymentAmount>30.00</paymentAmount>", "<creditorReferenceId>01000000000000144</creditorReferenceId>",
		"<transferList><transfer><idTransfer>1</idTransfer><transferAmount>30.00</transferAmount>", "<paymentDateTime>2026-01-02T04:04:05</paymentDateTime>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("XML lacks %s:\n%s", want, b)
		}
	}
	var x pagopa.XMLReceipt
	if err := xml.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	got, err := x.Receipt(pagopa.SourceNodo)
	if err != nil {
		t.Fatal(err)
	}
	if got.AmountCents != 3000 || got.NAV != r.NAV || got.Debtor != r.Debtor || !got.PaymentDate.Equal(r.PaymentDate) || got.Source != "nodo" {
		t.Errorf("round trip: %+v", got)
	}
	bad := []struct {
		name string
		edit func(*pagopa.Receipt)
		msg  string
	}{
		{"no id", func(r *pagopa.Receipt) { r.ReceiptID = "" }, "receiptId"},
		{"outcome", func(r *pagopa.Receipt) { r.Outcome = "MAYBE" }, "outcome"},
		{"nav", func(r *pagopa.Receipt) { r.NAV = "301000000000000145" }, "noticeNumber"},
		{"iuv mismatch", func(r *pagopa.Receipt) { r.IUV = "01000000000000238" }, "does not match"},
		{"sum", func(r *pagopa.Receipt) { r.Transfers[0].AmountCents = 2999 }, "add up"},
		{"no transfers", func(r *pagopa.Receipt) { r.Transfers = nil }, "0 transfers"},
		{"negative amount", func(r *pagopa.Receipt) { r.AmountCents = -1 }, "amount -1"},
	}
	for _, c := range bad {
		r := sampleReceipt()
		c.edit(&r)
		if err := r.Check(); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
	// paymentAmount is stAmount (0.00 allowed), each transferAmount
	// stAmountNotZero: a receipt of 0.00 is valid though its transfers
	// cannot add up to it.
	zero := sampleReceipt()
	zero.AmountCents = 0
	if err := zero.Check(); err != nil {
		t.Errorf("receipt of 0.00: %v", err)
	}
}

// TestReceiptStampTransfer: a digital stamp transfer (MBDAttachment in
// place of the IBAN) survives the SOAP form both ways.
func TestReceiptStampTransfer(t *testing.T) {
	r := sampleReceipt()
	r.Transfers[0].IBAN, r.Transfers[0].MBDAttachment = "", "PG1hcmNhPjwvbWFyY2E+"
	b, err := pagopa.MarshalReceiptXML(pagopa.NewXMLReceipt(r))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "<fiscalCodePA>"+org+"</fiscalCodePA><MBDAttachment>PG1hcmNhPjwvbWFyY2E+</MBDAttachment><remittanceInformation>") {
		t.Errorf("receipt XML: %s", b)
	}
	var x pagopa.XMLReceipt
	if err := xml.Unmarshal(b, &x); err != nil {
		t.Fatal(err)
	}
	got, err := x.Receipt(pagopa.SourceNodo)
	if err != nil {
		t.Fatal(err)
	}
	if tr := got.Transfers[0]; tr.MBDAttachment != "PG1hcmNhPjwvbWFyY2E+" || tr.IBAN != "" {
		t.Errorf("transfer read back: %+v", tr)
	}
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"0", "1.5", "100.00", "999999999.99", "1.", "-1", "1e3", "  7.1 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := pagopa.ParseAmount(s)
		if err != nil {
			return
		}
		if c < 0 || c > 99999999999 {
			t.Fatalf("%q -> %d out of range", s, c)
		}
		b, err := pagopa.Amount(c).MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if c2, err := pagopa.ParseAmount(string(b)); err != nil || c2 != c {
			t.Fatalf("%q -> %d -> %s -> %d, %v", s, c, b, c2, err)
		}
	})
}

func FuzzReceiptXML(f *testing.F) {
	b, err := pagopa.MarshalReceiptXML(pagopa.NewXMLReceipt(sampleReceipt()))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("<receipt><paymentAmount>1.234</paymentAmount></receipt>"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var x pagopa.XMLReceipt
		if xml.Unmarshal(data, &x) != nil {
			return
		}
		r, err := x.Receipt(pagopa.SourceGPD)
		if err != nil {
			return
		}
		if r.Check() != nil {
			t.Fatal("Receipt returned an unchecked receipt")
		}
	})
}
