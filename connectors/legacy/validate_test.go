package legacy

import (
	"errors"
	"strings"
	"testing"
)

func ruleOf(err error) string {
	var fe *FieldError
	if errors.As(err, &fe) {
		return fe.Rule
	}
	if err != nil {
		return "untyped:" + err.Error()
	}
	return ""
}

func TestValidateCodiceFiscale(t *testing.T) {
	tests := []struct {
		in   string
		rule string // "" means valid
	}{
		{"RSSMRA85T10A562S", ""},
		{"rssmra85t10a562s", ""},             // lower case accepted
		{" RSSMRA85T10A562S ", ""},           // spaces trimmed
		{"BNCGLI90A41H501E", ""},             // woman: day 41 = 1st
		{"RSSMRA85T10A56NH", ""},             // omocodia in the last digit (2→N)
		{"RSSMRA85T10AR6NO", "checksum"},     // omocodia letters but check char left as is
		{omocodiaAll("RSSMRA85T10A562"), ""}, // every digit replaced by its omocodia letter
		{omocodiaAll("RSSMRA85T72A562"), "day"},
		{"RSSMRA85T10A562T", "checksum"}, // wrong check char
		{"RSSMRA85Z10A562S", "month"},    // Z is not a month letter
		{"RSSMRA85T32A562S", "day"},      // day 32
		{"RSSMRA85T00A562S", "day"},      // day 0
		{"RSSMRA85T72A562S", "day"},      // day 72 (women 41–71)
		{"RSSMRA85B30A562S", "day"},      // 30 February
		{"RSSMRA85T10A562", "length"},    // 15 chars
		{"RSSMRA85T10A562SS", "length"},  // 17 chars
		{"", "required"},                 // empty
		{"RSSMRA85T10A5-2S", "format"},   // punctuation
		{"R5SMRA85T10A562S", "format"},   // digit where a letter goes
		{"RSSMRA8AT10A562S", "format"},   // non-omocodia letter where a digit goes
		{"12345670017", ""},              // legal person, valid
		{"80012345676", ""},              // ente, valid
		{"12345670018", "checksum"},      // legal person, bad check digit
		{"00000000000", "format"},        // all zeros
		{"1234567001A", "format"},        // letter in numeric code
		{"RSSMRÀ85T10A562S", "length"},   // multibyte: byte length is not 16
	}
	for _, tt := range tests {
		err := ValidateCodiceFiscale(tt.in)
		if got := ruleOf(err); got != tt.rule {
			t.Errorf("ValidateCodiceFiscale(%q) rule = %q, want %q (err %v)", tt.in, got, tt.rule, err)
		}
		if err != nil {
			var fe *FieldError
			errors.As(err, &fe)
			if fe.MessageIT == "" || fe.MessageEN == "" || fe.Field != "fiscalCode" || fe.Value != tt.in {
				t.Errorf("ValidateCodiceFiscale(%q) error incomplete: %+v", tt.in, fe)
			}
		}
	}
}

// omocodiaAll replaces every digit of the first 15 characters with its omocodia letter
// and appends the right check character.
func omocodiaAll(first15 string) string {
	b := []byte(first15)
	for _, i := range []int{6, 7, 9, 10, 12, 13, 14} {
		b[i] = omocodia[b[i]-'0']
	}
	c, err := CodiceFiscaleCheckChar(string(b))
	if err != nil {
		panic("omocodiaAll(" + first15 + "): " + err.Error()) // a table's constant: a mistake in the test
	}
	return string(b) + string(c)
}

func TestOmocodiaAll(t *testing.T) {
	cf := omocodiaAll("RSSMRA85T10A562")
	if cf[:15] != "RSSMRAURTMLARSN" {
		t.Fatalf("omocodiaAll = %s", cf)
	}
	if err := ValidateCodiceFiscale(cf); err != nil {
		t.Fatalf("omocodia code %s invalid: %v", cf, err)
	}
}

func TestValidatePartitaIVA(t *testing.T) {
	tests := []struct{ in, rule string }{
		{"12345670017", ""},
		{"IT12345670017", ""},
		{"01234567897", "office"}, // checksum fine, office 789 does not exist
		{"12345670018", "checksum"},
		{"1234567001", "length"},
		{"00000000000", "format"},
		{"1234567001X", "format"},
		{"80012345676", "office"}, // a valid ente fiscal code, but office 567 is no VAT office
	}
	for _, tt := range tests {
		if got := ruleOf(ValidatePartitaIVA(tt.in)); got != tt.rule {
			t.Errorf("ValidatePartitaIVA(%q) = %q, want %q", tt.in, got, tt.rule)
		}
	}
}

func TestValidateIBAN(t *testing.T) {
	tests := []struct{ in, rule string }{
		{"IT60X0542811101000000123456", ""},
		{"IT60 X054 2811 1010 0000 0123 456", ""},
		{"it60x0542811101000000123456", ""},
		{"IT30N0103003200000001234567", ""},
		{"DE89370400440532013000", ""},
		{"GB29NWBK60161331926819", ""},
		{"IT61X0542811101000000123456", "checksum"},
		{"IT60X0542811101000000123457", "checksum"},
		{"IT60X054281110100000012345", "length"},
		{"IT6000542811101000000123456", "structure"}, // CIN must be a letter
		{"IT60XA542811101000000123456", "structure"}, // ABI must be digits
		{"DE8937040044053201300", "length"},
		{"", "required"},
		{"60IT", "format"},
		{"IT60X05428111010000001234$6", "format"},
	}
	for _, tt := range tests {
		if got := ruleOf(ValidateIBAN(tt.in)); got != tt.rule {
			t.Errorf("ValidateIBAN(%q) = %q, want %q", tt.in, got, tt.rule)
		}
	}
	// A wrong CIN with check digits recomputed to match passes mod-97 but not the CIN.
	bad := "IT00Y0542811101000000123456"
	bad = "IT" + IBANCheckDigits(bad) + bad[4:]
	if got := ruleOf(ValidateIBAN(bad)); got != "cin" {
		t.Errorf("ValidateIBAN(%q) = %q, want cin", bad, got)
	}
}

func TestParseAmountCents(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		rule string
	}{
		{"123,45", 12345, ""},
		{"1.234,56", 123456, ""},
		{"1234,56", 123456, ""},
		{"1234.56", 123456, ""},
		{"1,234.56", 123456, ""},
		{"1.234.567,8", 123456780, ""},
		{"1,234,567", 123456700, ""},
		{"89", 8900, ""},
		{"0,01", 1, ""},
		{",50", 50, ""},
		{" 12,30 ", 1230, ""},
		{"€ 12,30", 1230, ""},
		{"+5", 500, ""},
		{"99.999.999,99", MaxAmountCents, ""}, // the pagoPA and App IO maximum
		{"100.000.000,00", 0, "maximum"},
		{"999.999.999,99", 0, "maximum"},
		{"1.000.000.000,00", 0, "maximum"},
		{"9999999999999999999999", 0, "maximum"},
		{"1.234", 0, "ambiguous"},
		{"1,234", 0, "decimals"},
		{"12,345", 0, "decimals"},
		{"12,3x", 0, "format"},
		{"12,", 0, "format"},
		{"1.23.4", 0, "format"},
		{"12.34,5.6", 0, "format"},
		{"-12,00", 0, "positive"},
		{"0", 0, "positive"},
		{"0,00", 0, "positive"},
		{"", 0, "required"},
		{"1e5", 0, "format"},
	}
	for _, tt := range tests {
		got, err := ParseAmountCents(tt.in)
		if r := ruleOf(err); r != tt.rule || got != tt.want {
			t.Errorf("ParseAmountCents(%q) = %d, %q; want %d, %q", tt.in, got, r, tt.want, tt.rule)
		}
	}
	// Explicit formats resolve the ambiguity.
	if v, err := ParseAmount("1.234", AmountDecimalComma); err != nil || v != 123400 {
		t.Errorf("comma format 1.234 = %d, %v", v, err)
	}
	if v, err := ParseAmount("1.5", AmountDecimalPoint); err != nil || v != 150 {
		t.Errorf("point format 1.5 = %d, %v", v, err)
	}
	if _, err := ParseAmount("1,5", AmountDecimalPoint); ruleOf(err) != "format" {
		t.Errorf("point format 1,5: %v", err)
	}
}

func TestParseDate(t *testing.T) {
	tests := []struct{ in, format, want, rule string }{
		{"31/05/2026", "", "2026-05-31", ""},
		{"1/6/2026", DateDMY, "2026-06-01", ""},
		{"29/02/2028", DateDMY, "2028-02-29", ""},
		{"29/02/2026", DateDMY, "", "date"},
		{"31/04/2026", DateDMY, "", "date"},
		{"2026-05-31", DateISO, "2026-05-31", ""},
		{"2026-5-31", DateISO, "2026-05-31", ""},
		{"2026-05-31", DateDMY, "", "format"},
		{"31/05/2026", DateISO, "", "format"},
		{"31/05/26", DateDMY, "", "format"},
		{"31/13/2026", DateDMY, "", "date"},
		{"01/01/1999", DateDMY, "", "range"},
		{"", DateDMY, "", "required"},
		{"31-05-2026", "yyyymmdd", "", "format"},
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in, tt.format)
		if r := ruleOf(err); r != tt.rule || got != tt.want {
			t.Errorf("ParseDate(%q, %q) = %q, %q; want %q, %q", tt.in, tt.format, got, r, tt.want, tt.rule)
		}
	}
}

func TestValidateEmail(t *testing.T) {
	tests := []struct{ in, rule string }{
		{"", ""},
		{"mario.rossi@example.it", ""},
		{"m+tag@comune.esempio.it", ""},
		{"Mario <mario@example.it>", "email"},
		{"mario@localhost", "email"},
		{"mario@", "email"},
		{"@example.it", "email"},
		{"mario rossi@example.it", "email"},
		{"mario@example.it.", "email"},
		{"mario@[127.0.0.1]", "email"},
		{strings.Repeat("a", 250) + "@example.it", "email"},
	}
	for _, tt := range tests {
		if got := ruleOf(ValidateEmail(tt.in)); got != tt.rule {
			t.Errorf("ValidateEmail(%q) = %q, want %q", tt.in, got, tt.rule)
		}
	}
}

func TestValidateCAP(t *testing.T) {
	tests := []struct{ in, rule string }{
		{"00184", ""}, {"20121", ""}, {"98168", ""},
		{"0018", "format"}, {"001844", "format"}, {"0018A", "format"}, {"00000", "format"}, {"", "format"},
	}
	for _, tt := range tests {
		if got := ruleOf(ValidateCAP(tt.in)); got != tt.rule {
			t.Errorf("ValidateCAP(%q) = %q, want %q", tt.in, got, tt.rule)
		}
	}
}

func FuzzCodiceFiscale(f *testing.F) {
	for _, s := range []string{"RSSMRA85T10A562S", "RSSMRA85T10A56NH", "12345670017", "", "RSSMRA85T10A562", "ÀÀÀÀÀÀÀÀ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := ValidateCodiceFiscale(s)
		if err == nil {
			n := NormalizeCodiceFiscale(s)
			if len(n) != 16 && len(n) != 11 {
				t.Fatalf("accepted %q of length %d", s, len(n))
			}
			if len(n) == 16 {
				// Changing the check character must make a valid code invalid.
				c := n[15] + 1
				if c > 'Z' {
					c = 'A'
				}
				if ValidateCodiceFiscale(n[:15]+string(c)) == nil {
					t.Fatalf("two check characters accepted for %q", n)
				}
			}
			return
		}
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Rule == "" || fe.MessageIT == "" || fe.MessageEN == "" {
			t.Fatalf("untyped or incomplete error for %q: %v", s, err)
		}
	})
}

func FuzzParseAmount(f *testing.F) {
	for _, s := range []string{"123,45", "1.234,56", "1234.56", "1,234.56", "12,3x", "-1", "0", "1.234", "999.999.999,99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, mode := range []AmountFormat{AmountAuto, AmountDecimalComma, AmountDecimalPoint} {
			v, err := ParseAmount(s, mode)
			if err != nil {
				if v != 0 || ruleOf(err) == "" {
					t.Fatalf("ParseAmount(%q, %d) = %d, %v", s, mode, v, err)
				}
				continue
			}
			if v <= 0 || v > MaxAmountCents {
				t.Fatalf("ParseAmount(%q, %d) = %d out of range", s, mode, v)
			}
		}
	})
}
