package campaign

import (
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/internal/tenant"
)

func TestPaymentMessageLanguages(t *testing.T) {
	tn := &tenant.Tenant{ID: "esempio", FiscalCode: "01234567890", Name: tenant.Localized{IT: "Comune di Esempio", EN: "Municipality of Esempio"}}
	it := Item{FiscalCode: "RSSMRA80A01H501U", Name: "Mario", Surname: "Rossi", AmountCents: 12345, DueDate: "2026-12-31", NAV: "301000000000000144"}
	cases := []struct {
		name      string
		b         BatchInput
		langs     []string
		wantSubj  string
		wantInMD  []string
		wantNotMD string
	}{
		{"italian by default", BatchInput{Subject: "TARI 2026", SubjectEN: "Waste tax 2026"}, nil,
			"Avviso di pagamento: TARI 2026", []string{"Gentile Mario Rossi", "Comune di Esempio", "123,45", "31/12/2026", "3010 0000 0000 0001 44"}, "Dear"},
		{"english when preferred", BatchInput{Subject: "TARI 2026", SubjectEN: "Waste tax 2026"}, []string{"en_GB"},
			"Payment notice: Waste tax 2026", []string{"Dear Mario Rossi", "Municipality of Esempio"}, "Gentile"},
		{"italian when the campaign has no english subject", BatchInput{Subject: "TARI 2026"}, []string{"en_GB"},
			"Avviso di pagamento: TARI 2026", []string{"Gentile"}, "Dear"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cm, err := paymentMessage(tn, c.b, it, c.langs)
			if err != nil {
				t.Fatal(err)
			}
			m := (&appio.Sender{}).Message(cm) // what App IO receives
			if err := m.Validate(); err != nil {
				t.Fatalf("message does not pass the App IO rules: %v", err)
			}
			if m.Content.Subject != c.wantSubj {
				t.Errorf("subject = %q, want %q", m.Content.Subject, c.wantSubj)
			}
			for _, w := range c.wantInMD {
				if !strings.Contains(m.Content.Markdown, w) {
					t.Errorf("markdown lacks %q:\n%s", w, m.Content.Markdown)
				}
			}
			if strings.Contains(m.Content.Markdown, c.wantNotMD) {
				t.Errorf("markdown has %q:\n%s", c.wantNotMD, m.Content.Markdown)
			}
			if m.Content.PaymentData == nil || m.Content.PaymentData.Amount != 12345 || m.Content.PaymentData.NoticeNumber != it.NAV {
				t.Errorf("payment data = %+v", m.Content.PaymentData)
			}
		})
	}
	bad := it
	bad.DueDate = "31/12/2026"
	if _, err := paymentMessage(tn, BatchInput{Subject: "x"}, bad, nil); err == nil {
		t.Error("unparseable due date: want an error")
	}
}
