package campaign

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"

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

// TestNoticeFromTenantConfig: the CBILL code and the postal account come
// from the tenant's config and reach the printed notice; texts from the
// source longer than the notice's boxes are cut, not refused.
func TestNoticeFromTenantConfig(t *testing.T) {
	tn := &tenant.Tenant{ID: "esempio", FiscalCode: "01234567890", Name: tenant.Localized{IT: "Comune di Esempio"},
		PagoPA: tenant.PagoPA{CBILL: "A0EDT", PostalIBAN: "IT30O0760103200000012345678",
			PostalAuthorization: "AUT. DB/SSIC/E 12345 DEL 01/01/2026"}}
	it := Item{FiscalCode: "RSSMRA80A01H501U", Name: strings.Repeat("Maria ", 10), Surname: strings.Repeat("Rossi ", 10),
		AmountCents: 10001, DueDate: "2027-03-31", NAV: "301000000000000144",
		Description: strings.Repeat("TARI 2026 ", 12)}
	n, err := noticeFor(tn, "TARI 2026", "", it, "it")
	if err != nil {
		t.Fatal(err)
	}
	if n.EC.CBILL != "A0EDT" {
		t.Errorf("CBILL %q, want the tenant's A0EDT", n.EC.CBILL)
	}
	if n.EC.Postal == nil || n.EC.Postal.Account != "000012345678" || n.EC.Postal.Owner != "" ||
		n.EC.Postal.Authorization != "AUT. DB/SSIC/E 12345 DEL 01/01/2026" {
		t.Errorf("postal %+v, want account 000012345678 from the tenant's postalIban", n.EC.Postal)
	}
	if got := utf8.RuneCountInString(n.Debtor.Name); got != notice.MaxDebtorName || !strings.HasSuffix(n.Debtor.Name, "…") {
		t.Errorf("debtor name %q (%d characters), want cut to %d with …", n.Debtor.Name, got, notice.MaxDebtorName)
	}
	if got := utf8.RuneCountInString(n.Subject); got > notice.MaxSubject {
		t.Errorf("subject of %d characters, over the notice's %d", got, notice.MaxSubject)
	}
	var buf bytes.Buffer
	if err := notice.RenderWith(&buf, []notice.Notice{n}, notice.Options{Uncompressed: true}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"(A0EDT) Tj", "(BOLLETTINO POSTALE PA) Tj", "(000012345678) Tj"} {
		if !bytes.Contains(buf.Bytes(), []byte(want)) {
			t.Errorf("the notice PDF lacks %s", want)
		}
	}

	// A postal IBAN of another bank is a config error, named.
	tn.PagoPA.PostalIBAN = "IT60X0542811101000000123456"
	if _, err := noticeFor(tn, "TARI 2026", "", it, "it"); err == nil || !strings.Contains(err.Error(), "pagopa.postalIban") {
		t.Errorf("want an error naming pagopa.postalIban, got %v", err)
	}
}
