package pagopa

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func validPosition() PaymentPosition {
	return PaymentPosition{
		IUPD: "TARI-1", Type: TypePerson, FiscalCode: "RSSMRA80A01H501U", FullName: "Mario Rossi",
		CompanyName: "Comune di Prova",
		PaymentOption: []PaymentOption{{
			IUV: "01000000000000144", Amount: 300, Description: "TARI", DueDate: testNow.Add(48 * time.Hour),
			Transfer: []Transfer{
				{IDTransfer: "1", Amount: 200, RemittanceInformation: "TARI", Category: "9/0101100IM/", IBAN: "IT60X0542811101000000123456"},
				{IDTransfer: "2", Amount: 100, RemittanceInformation: "Bollo", Category: "9/0101100IM/",
					Stamp: &Stamp{HashDocument: "aGFzaA==", StampType: "01", ProvincialResidence: "RM"}},
			},
		}},
	}
}

func TestValidate(t *testing.T) {
	past := testNow.Add(-time.Hour)
	tests := []struct {
		name     string
		mutate   func(p *PaymentPosition)
		wantPath string
		wantRule string
	}{
		{"valid", func(*PaymentPosition) {}, "", ""},
		{"no iupd", func(p *PaymentPosition) { p.IUPD = "" }, "iupd", "required"},
		{"bad type", func(p *PaymentPosition) { p.Type = "X" }, "type", "must be"},
		{"no fiscal code", func(p *PaymentPosition) { p.FiscalCode = " " }, "fiscalCode", "required"},
		{"no full name", func(p *PaymentPosition) { p.FullName = "" }, "fullName", "required"},
		{"long company", func(p *PaymentPosition) { p.CompanyName = strings.Repeat("a", 141) }, "companyName", "at most 140"},
		{"country", func(p *PaymentPosition) { p.Country = "it" }, "country", "upper-case"},
		{"validity past", func(p *PaymentPosition) { p.ValidityDate = &past }, "validityDate", "future"},
		{"no options", func(p *PaymentPosition) { p.PaymentOption = nil }, "paymentOption", "at least one"},
		{"amount zero", func(p *PaymentPosition) { p.PaymentOption[0].Amount = 0 }, "paymentOption[0].amount", "> 0"},
		{"long description", func(p *PaymentPosition) { p.PaymentOption[0].Description = strings.Repeat("è", 141) }, "paymentOption[0].description", "at most 140"},
		{"due past", func(p *PaymentPosition) { p.PaymentOption[0].DueDate = past }, "paymentOption[0].dueDate", "before now"},
		{"due before validity", func(p *PaymentPosition) {
			v := testNow.Add(72 * time.Hour)
			p.ValidityDate = &v
		}, "paymentOption[0].dueDate", "before validityDate"},
		{"retention before due", func(p *PaymentPosition) {
			r := testNow.Add(24 * time.Hour)
			p.PaymentOption[0].RetentionDate = &r
		}, "paymentOption[0].retentionDate", "before dueDate"},
		{"sum", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[0].Amount = 150 }, "paymentOption[0].transfer", "sum to 250"},
		{"six transfers", func(p *PaymentPosition) {
			o := &p.PaymentOption[0]
			for i := 0; i < 4; i++ {
				o.Transfer = append(o.Transfer, o.Transfer[0])
			}
		}, "paymentOption[0].transfer", "at most 5"},
		{"id 6", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[1].IDTransfer = "6" }, "paymentOption[0].transfer[1].idTransfer", "\"1\"..\"5\""},
		{"dup id", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[1].IDTransfer = "1" }, "paymentOption[0].transfer[1].idTransfer", "duplicates"},
		{"iban and stamp", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[1].IBAN = "IT60X0542811101000000123456" }, "paymentOption[0].transfer[1].iban", "mutually exclusive"},
		{"neither", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[0].IBAN = "" }, "paymentOption[0].transfer[0].iban", "either iban or stamp"},
		{"bad iban", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[0].IBAN = "IT 60" }, "paymentOption[0].transfer[0].iban", "letters or digits"},
		{"postal with stamp", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[1].PostalIBAN = "IT60X0542811101000000123456" }, "paymentOption[0].transfer[1].postalIban", "stamp"},
		{"stamp type", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[1].Stamp.StampType = "1" }, "paymentOption[0].transfer[1].stamp.stampType", "2 characters"},
		{"stamp province", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[1].Stamp.ProvincialResidence = "Rm" }, "paymentOption[0].transfer[1].stamp.provincialResidence", "upper-case"},
		{"long remittance", func(p *PaymentPosition) {
			p.PaymentOption[0].Transfer[0].RemittanceInformation = strings.Repeat("x", 141)
		}, "paymentOption[0].transfer[0].remittanceInformation", "at most 140"},
		{"no category", func(p *PaymentPosition) { p.PaymentOption[0].Transfer[0].Category = "" }, "paymentOption[0].transfer[0].category", "required"},
		{"dup metadata", func(p *PaymentPosition) {
			p.PaymentOption[0].PaymentOptionMetadata = []Metadata{{"a", "1"}, {"a", "2"}}
		}, "paymentOption[0].paymentOptionMetadata[1].key", "duplicates"},
		{"too much metadata", func(p *PaymentPosition) {
			p.PaymentOption[0].Transfer[0].TransferMetadata = make([]Metadata, 11)
		}, "paymentOption[0].transfer[0].transferMetadata", "at most 10"},
		{"dup iuv", func(p *PaymentPosition) {
			p.PaymentOption = append(p.PaymentOption, p.PaymentOption[0])
		}, "paymentOption[1].iuv", "duplicates"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := validPosition()
			tt.mutate(&p)
			err := p.ValidateAt(testNow)
			if tt.wantPath == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var es ValidationErrors
			if !errors.As(err, &es) {
				t.Fatalf("err = %v, want ValidationErrors", err)
			}
			for _, e := range es {
				if e.Path == tt.wantPath && strings.Contains(e.Rule, tt.wantRule) {
					return
				}
			}
			t.Fatalf("no error at %s containing %q in: %v", tt.wantPath, tt.wantRule, err)
		})
	}
}

func TestForRequestDropsReadOnly(t *testing.T) {
	p := validPosition()
	p.Status, p.OrganizationFiscalCode = StatusValid, "x"
	p.PaymentOption[0].Fee, p.PaymentOption[0].Status = 5, OptionPaid
	p.PaymentOption[0].Transfer[0].Status = "T_REPORTED"
	q := p.ForRequest()
	if q.Status != "" || q.OrganizationFiscalCode != "" || q.PaymentOption[0].Fee != 0 || q.PaymentOption[0].Status != "" || q.PaymentOption[0].Transfer[0].Status != "" {
		t.Fatalf("read-only fields kept: %+v", q)
	}
	if p.PaymentOption[0].Fee != 5 || p.PaymentOption[0].Transfer[0].Status != "T_REPORTED" {
		t.Fatal("ForRequest modified its receiver")
	}
}

func TestUnmarshalZonelessTimes(t *testing.T) {
	var p PaymentPosition
	err := jsonUnmarshal(`{"iupd":"X","validityDate":"2026-12-01T10:00:00","paymentOption":[{"iuv":"1","dueDate":"2026-12-31T23:59:59.999","transfer":[{"idTransfer":"1","insertedDate":"2026-11-01T08:00:00Z"}]}]}`, &p)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC); !p.ValidityDate.Equal(want) {
		t.Fatalf("validityDate = %s, want %s (Europe/Rome)", p.ValidityDate, want)
	}
	if p.PaymentOption[0].DueDate.Day() != 31 || p.PaymentOption[0].Transfer[0].InsertedDate.Hour() != 8 || p.IUPD != "X" {
		t.Fatalf("decoded %+v", p)
	}
	if err := jsonUnmarshal(`{"validityDate":"yesterday"}`, &p); err == nil {
		t.Fatal("bad date: want error")
	}
}
