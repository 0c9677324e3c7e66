package campaign

import (
	"bytes"
	"testing"

	"github.com/ponte-pa/ponte/connectors/pagopa/notice"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func TestNoticeWithRate(t *testing.T) {
	tn := &tenant.Tenant{ID: "esempio", FiscalCode: "01234567890", Name: tenant.Localized{IT: "Comune di Esempio"}}
	it := Item{FiscalCode: "RSSMRA80A01H501U", Name: "Mario", Surname: "Rossi", AmountCents: 10001, DueDate: "2027-03-31",
		NAV: "301000000000000144", Rate: []Rata{
			{N: 1, NAV: "301000000000000245", AmountCents: 5000, DueDate: "2027-03-31"},
			{N: 2, NAV: "301000000000000346", AmountCents: 5001, DueDate: "2027-09-30"}}}
	n, err := noticeFor(tn, "TARI 2026", "", it, "it")
	if err != nil {
		t.Fatal(err)
	}
	if len(n.Options) != 3 || n.Options[2].Installment != 2 || n.Options[2].Of != 2 || n.Options[2].AmountCents != 5001 {
		t.Fatalf("options %+v", n.Options)
	}
	var buf bytes.Buffer
	if err := notice.Render(&buf, n); err != nil || !bytes.HasPrefix(buf.Bytes(), []byte("%PDF-")) {
		t.Fatalf("render: %v (%d bytes)", err, buf.Len())
	}
}
