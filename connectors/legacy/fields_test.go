package legacy

import (
	"strconv"
	"strings"
	"testing"
)

func TestDateLayouts(t *testing.T) {
	tests := []struct{ in, format, want, rule string }{
		{"31/05/2026", "", "2026-05-31", ""},
		{"1/6/2026", DateDMY, "2026-06-01", ""},
		{"2026-05-31", DateISO, "2026-05-31", ""},
		{"20260531", "YYYYMMDD", "2026-05-31", ""},
		{"20260531", "yyyymmdd", "2026-05-31", ""},
		{"20260532", "YYYYMMDD", "", "date"},
		{"2026053", "YYYYMMDD", "", "format"},
		{"31052026", "DDMMYYYY", "2026-05-31", ""},
		{"31052026", "GGMMAAAA", "2026-05-31", ""},
		{"29022026", "DDMMYYYY", "", "date"},
		{"29022028", "DDMMYYYY", "2028-02-29", ""},
		{"31.05.2026", "DD.MM.YYYY", "2026-05-31", ""},
		{"31-05-2026", "%d-%m-%Y", "2026-05-31", ""},
		{"1/6/2026", "%-d/%-m/%Y", "2026-06-01", ""},
		{"31.05.2026", "02.01.2006", "2026-05-31", ""},
		{"2026/05/31", "2006/01/02", "2026-05-31", ""},
		{"31/05/1999", "DD/MM/YYYY", "", "range"},
		{"", "YYYYMMDD", "", "required"},
		{"31/05/2026", "YYYYMMDD", "", "format"},
		{"2026-05-31", "mm/dd", "", "format"}, // not a layout: refused
	}
	for _, tt := range tests {
		got, err := ParseDate(tt.in, tt.format)
		if r := ruleOf(err); r != tt.rule || got != tt.want {
			t.Errorf("ParseDate(%q, %q) = %q, %q; want %q, %q", tt.in, tt.format, got, r, tt.want, tt.rule)
		}
		if fe, ok := err.(*FieldError); ok && (fe.MessageIT == "" || fe.MessageEN == "" || fe.Field != "dueDate") {
			t.Errorf("ParseDate(%q, %q): message %+v", tt.in, tt.format, fe)
		}
	}
	for _, bad := range []string{"mm/dd", "YYYY-MM", "%Y-%m-%x", "DD/MM/YY", "Q", "2006-01", "DD/MM/YYYY1"} {
		if _, err := CompileDateLayout(bad); err == nil {
			t.Errorf("CompileDateLayout(%q) accepted", bad)
		}
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"20260531", "31/05/2026", "2026-05-31", "0000000", "99999999"} {
		f.Add(s, "YYYYMMDD")
		f.Add(s, "%d/%m/%Y")
	}
	f.Fuzz(func(t *testing.T, in, format string) {
		got, err := ParseDate(in, format)
		if err != nil {
			return
		}
		// What parses is a real date of this century in ISO form, and writing it back
		// in the layout reads the same date.
		if len(got) != 10 || got < "2000-01-01" || got > "2099-12-31" {
			t.Fatalf("ParseDate(%q, %q) = %q", in, format, got)
		}
		if _, err := ParseDate(got, DateISO); err != nil {
			t.Fatalf("ParseDate(%q, %q) = %q, not ISO: %v", in, format, got, err)
		}
	})
}

func TestIBANPolicy(t *testing.T) {
	tests := []struct{ in, policy, rule string }{
		{"IT60X0542811101000000123456", "", ""},
		{"IT60X0542811101000000123456", IBANSEPA, ""},
		{"DE89370400440532013000", "", "country"},
		{"DE89370400440532013000", IBANItaly, "country"},
		{"DE89370400440532013000", IBANSEPA, ""},
		{"GB29NWBK60161331926819", IBANSEPA, ""},
		{"BR1800360305000010009795493C1", IBANSEPA, "country"},
		{"IT61X0542811101000000123456", IBANSEPA, "checksum"},
		{"DE88370400440532013000", IBANSEPA, "checksum"},
	}
	for _, tt := range tests {
		if got := ruleOf(ValidateIBANPolicy(tt.in, tt.policy)); got != tt.rule {
			t.Errorf("ValidateIBANPolicy(%q, %q) = %q, want %q", tt.in, tt.policy, got, tt.rule)
		}
	}
}

func FuzzValidateIBAN(f *testing.F) {
	for _, s := range []string{"IT60X0542811101000000123456", "DE89370400440532013000", "", "IT", "it60 x054"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ValidateIBANPolicy(s, IBANSEPA) != nil {
			return
		}
		v := NormalizeIBAN(s)
		if ibanMod97(v) != 1 || !sepaCountries[v[:2]] {
			t.Fatalf("%q accepted", s)
		}
	})
}

func TestPhoneIT(t *testing.T) {
	tests := []struct{ in, want, rule string }{
		{"333 123 4567", "+393331234567", ""},
		{"+39 333 1234567", "+393331234567", ""},
		{"0039 333-123-4567", "+393331234567", ""},
		{"06 1234 5678", "+390612345678", ""},
		{"(02) 123.4567", "+39021234567", ""},
		{"+44 20 7946 0958", "+442079460958", ""},
		{"12345", "", "phone"},
		{"333 12", "", "phone"},
		{"+39 333 123456789", "", "phone"},
		{"333-abc", "", "phone"},
		{"+0 123456789", "", "phone"},
		{"+1234567890123456", "", "phone"},
	}
	for _, tt := range tests {
		got, err := NormalizePhoneIT(tt.in)
		if r := ruleOf(err); r != tt.rule || got != tt.want {
			t.Errorf("NormalizePhoneIT(%q) = %q, %q; want %q, %q", tt.in, got, r, tt.want, tt.rule)
		}
	}
}

func FuzzNormalizePhoneIT(f *testing.F) {
	for _, s := range []string{"333 1234567", "+39 06 1234", "0039", "+", "++39"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := NormalizePhoneIT(s)
		if err != nil {
			return
		}
		if len(p) < 9 || len(p) > 16 || p[0] != '+' || !isDigits(p[1:]) {
			t.Fatalf("NormalizePhoneIT(%q) = %q, not E.164", s, p)
		}
		if again, err := NormalizePhoneIT(p); err != nil || again != p {
			t.Fatalf("not idempotent: %q -> %q -> %q %v", s, p, again, err)
		}
	})
}

func TestItalianCodes(t *testing.T) {
	for _, tt := range []struct {
		name  string
		check func(string) error
		in    string
		rule  string
	}{
		{"istat", ValidateISTAT, "058091", ""},
		{"istat", ValidateISTAT, "015146", ""},
		{"istat", ValidateISTAT, "58091", "format"},
		{"istat", ValidateISTAT, "000091", "format"},
		{"istat", ValidateISTAT, "058000", "format"},
		{"istat", ValidateISTAT, "05809A", "format"},
		{"cadastral", ValidateCadastralCode, "H501", ""},
		{"cadastral", ValidateCadastralCode, "f205", ""},
		{"cadastral", ValidateCadastralCode, "Z404", ""},
		{"cadastral", ValidateCadastralCode, "H50", "format"},
		{"cadastral", ValidateCadastralCode, "1501", "format"},
		{"cadastral", ValidateCadastralCode, "H000", "format"},
		{"cap", ValidateCAP, "00184", ""},
		{"cap", ValidateCAP, "0018", "format"},
		{"cap", ValidateCAP, "00000", "format"},
		{"vat", ValidatePartitaIVA, "12345670017", ""},
		{"vat", ValidatePartitaIVA, "12345670018", "checksum"},
	} {
		if got := ruleOf(tt.check(tt.in)); got != tt.rule {
			t.Errorf("%s(%q) = %q, want %q", tt.name, tt.in, got, tt.rule)
		}
	}
}

// TestRecordFieldTypes runs the new field types through a source: IBAN with its
// country policy, phone normalisation, the minimum amount and the pagoPA ceiling.
func TestRecordFieldTypes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "t.csv", "codice_fiscale;cognome;nome;importo;scadenza;iban;telefono\n"+
		"RSSMRA85T10A562S;Rossi;Mario;10,00;20260531;IT60 X054 2811 1010 0000 0123 456;333 1234567\n"+ // 2 ok
		"BNCGLI90A41H501E;Bianchi;Giulia;10,00;20260531;IT61X0542811101000000123456;\n"+ // 3 bad checksum
		"BNCGLI90A41H501E;Bianchi;Giulia;11,00;20260531;DE89370400440532013000;\n"+ // 4 foreign
		"BNCGLI90A41H501E;Bianchi;Giulia;12,00;20260531;;12\n"+ // 5 bad phone
		"BNCGLI90A41H501E;Bianchi;Giulia;0,50;20260531;;\n"+ // 6 below minimum
		"BNCGLI90A41H501E;Bianchi;Giulia;100.000.000,00;20260531;;\n"+ // 7 above the pagoPA maximum
		"BNCGLI90A41H501E;Bianchi;Giulia;99.999.999,99;20260531;;\n") // 8 ok
	for _, tc := range []struct {
		policy, want string
	}{
		{"", "3:iban:checksum 4:iban:country 5:phone:phone 6:amount:minimum 7:amount:maximum"},
		{`,"ibanCountries":"SEPA"`, "3:iban:checksum 5:phone:phone 6:amount:minimum 7:amount:maximum"},
	} {
		c := readAll(t, open(t, `{"path":"t.csv","delimiter":";","dateFormat":"YYYYMMDD","minAmount":1`+tc.policy+`}`, dir))
		if c.err != nil {
			t.Fatal(c.err)
		}
		var got []string
		for _, r := range c.rejects {
			got = append(got, strings.Join([]string{strconv.Itoa(r.Line), r.Field, r.Rule}, ":"))
			if r.MessageIT == "" || r.MessageEN == "" {
				t.Errorf("reject without a message: %+v", r)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%s: rejects %v, want %s", tc.policy, got, tc.want)
		}
		if d := c.debtors[0]; d.IBAN != "IT60X0542811101000000123456" || d.Phone != "+393331234567" || d.DueDate != "2026-05-31" {
			t.Errorf("first debtor %+v", d)
		}
	}
	if _, err := OpenSource(KindCSV, []byte(`{"path":"t.csv","minAmount":0.001}`), dir); err == nil || !strings.Contains(err.Error(), "minAmount") {
		t.Errorf("minAmount with 3 decimals: %v", err)
	}
}

func TestSuspectText(t *testing.T) {
	for _, tt := range []struct {
		in      string
		suspect bool
	}{
		{"Niccolò D'Angelo", false},
		{"Perché sì", false},
		{"NiccolÃ² D'Angelo", true},
		{"PerchÃ©", true},
		{"Lâ€™Aquila", true},
		{"Rossi\x01", true},
		{"Rossi\u0085", true},
		{"Ros\uFFFDsi", true},
		{"TARI\t2026", false},
		{"", false},
	} {
		if got := SuspectText(tt.in); (got != "") != tt.suspect {
			t.Errorf("SuspectText(%q) = %q, want suspect %v", tt.in, got, tt.suspect)
		}
	}
}

func FuzzSuspectText(f *testing.F) {
	for _, s := range []string{"Niccolò", "NiccolÃ²", "\x00", "â€™"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		why := SuspectText(s)
		// Plain ASCII letters, digits and punctuation are never suspect.
		clean := true
		for i := 0; i < len(s); i++ {
			if s[i] < 0x20 || s[i] >= 0x7f {
				clean = false
			}
		}
		if clean && why != "" {
			t.Fatalf("SuspectText(%q) = %q", s, why)
		}
	})
}

// The address's codes are read, checked and normalised; a bad one rejects
// its row, naming the field.
func TestRecordAddressCodes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "t.csv", "codice_fiscale;cognome;nome;importo;scadenza;cap;codice_istat;codice_catastale\n"+
		"RSSMRA85T10A562S;Rossi;Mario;10,00;20260531;40121;037006;a944\n"+ // 2 ok (Bologna)
		"BNCGLI90A41H501E;Bianchi;Giulia;10,00;20260531;4012;;\n"+ // 3 CAP of 4 digits
		"BNCGLI90A41H501E;Bianchi;Giulia;11,00;20260531;;37006;\n"+ // 4 ISTAT of 5 digits
		"BNCGLI90A41H501E;Bianchi;Giulia;12,00;20260531;;;H5011\n"+ // 5 cadastral too long
		"BNCGLI90A41H501E;Bianchi;Giulia;13,00;20260531;;;\n") // 6 ok, no codes
	c := readAll(t, open(t, `{"path":"t.csv","delimiter":";","dateFormat":"YYYYMMDD"}`, dir))
	if c.err != nil {
		t.Fatal(c.err)
	}
	var got []string
	for _, r := range c.rejects {
		got = append(got, strings.Join([]string{strconv.Itoa(r.Line), r.Field, r.Rule}, ":"))
		if r.MessageIT == "" || r.MessageEN == "" {
			t.Errorf("reject without a message: %+v", r)
		}
	}
	if want := "3:cap:format 4:istat:format 5:cadastralCode:format"; strings.Join(got, " ") != want {
		t.Errorf("rejects %v, want %s", got, want)
	}
	if len(c.debtors) != 2 {
		t.Fatalf("%d debtors", len(c.debtors))
	}
	if d := c.debtors[0]; d.CAP != "40121" || d.ISTAT != "037006" || d.Cadastral != "A944" {
		t.Errorf("first debtor %+v", d)
	}
	if d := c.debtors[1]; d.CAP != "" || d.ISTAT != "" || d.Cadastral != "" {
		t.Errorf("second debtor %+v", d)
	}
}
