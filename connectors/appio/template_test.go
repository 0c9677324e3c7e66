package appio

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files")

func paymentVars() map[string]any {
	return map[string]any{
		PayVarName:         "Maria_Rossi",
		PayVarOrganization: "Comune di Roccasecca",
		PayVarSubject:      "TARI 2026 - rata unica",
		PayVarAmount:       int64(123456),
		PayVarDueDate:      time.Date(2026, 7, 31, 0, 0, 0, 0, time.UTC),
		PayVarNAV:          "301000000000000144",
	}
}

func TestDefaultPaymentTemplatesGolden(t *testing.T) {
	ts, err := ParseTemplates(DefaultPaymentTemplates())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ts.Languages(), ","); got != "en,it" {
		t.Errorf("languages %s", got)
	}
	for _, lang := range []string{"it", "en"} {
		subject, md, err := ts.Render(lang, paymentVars())
		if err != nil {
			t.Fatal(err)
		}
		got := subject + "\n---\n" + md + "\n"
		path := filepath.Join("testdata", "templates", "payment-notice."+lang+".golden")
		if *updateGolden {
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if got != string(want) {
			t.Errorf("%s rendering differs from %s:\n%s", lang, path, got)
		}
		// The rendered message is a valid one.
		m := NewMessage{FiscalCode: fcAllowed, Content: MessageContent{Subject: subject, Markdown: md}}
		if err := m.Validate(); err != nil {
			t.Errorf("%s: %v", lang, err)
		}
	}
}

func TestLanguageChoice(t *testing.T) {
	ts, err := ParseTemplates(DefaultPaymentTemplates())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		pref []string
		want string
	}{
		{nil, "it"},
		{[]string{"en_GB"}, "en"},
		{[]string{"de_DE", "en_US", "it_IT"}, "en"},
		{[]string{"it_IT", "en_GB"}, "it"},
		{[]string{"fr_FR"}, "it"},
		{[]string{"EN-gb"}, "en"},
	} {
		if got := ts.Language(tc.pref); got != tc.want {
			t.Errorf("Language(%v) = %s, want %s", tc.pref, got, tc.want)
		}
	}
	// An unknown language falls back to Italian when rendering too.
	s, _, err := ts.Render("de", paymentVars())
	if err != nil || !strings.HasPrefix(s, "Avviso di pagamento") {
		t.Errorf("Render(de) = %q, %v; want the Italian subject", s, err)
	}
}

func TestFormatters(t *testing.T) {
	for _, tc := range []struct {
		cents int64
		lang  string
		want  string
	}{
		{1, "it", "€ 0,01"},
		{100, "it", "€ 1,00"},
		{123456, "it", "€ 1.234,56"},
		{9999999999, "it", "€ 99.999.999,99"},
		{123456, "en", "€1,234.56"},
		{100000, "en_GB", "€1,000.00"},
		{-250, "it", "-€ 2,50"},
	} {
		if got := FormatEuro(tc.cents, tc.lang); got != tc.want {
			t.Errorf("FormatEuro(%d, %s) = %q, want %q", tc.cents, tc.lang, got, tc.want)
		}
	}
	if got := mdEscape("a*b_[c](d) S.p.A. - x"); got != `a\*b\_\[c\](d) S.p.A. - x` {
		t.Errorf("mdEscape = %q", got)
	}
}

// pair builds a one-variable template definition.
func pair(subject, md string, vars ...VarDef) TemplateDef {
	return TemplateDef{Name: "t", Vars: vars, Languages: map[string]TextPair{"it": {Subject: subject, Markdown: md}}}
}

const longMD = "Questo è il testo del messaggio, abbastanza lungo da superare gli ottanta caratteri richiesti."

func TestParseTemplatesRejects(t *testing.T) {
	name := VarDef{Name: "name", Type: VarString, MaxLen: 50}
	for _, tc := range []struct {
		name string
		def  TemplateDef
		want string // substring of the error
	}{
		{"ok", pair("Oggetto del messaggio: {{.name}}", longMD, name), ""},
		{"subject too long at worst", pair("Oggetto del messaggio per {{.name}} {{.name}} {{.name}}", longMD, name),
			`template "t" (it) subject, worst-case rendering: renders 178 characters, the limit is 10..120`},
		{"subject too short at minimum", pair("{{.name}}", longMD, name),
			`template "t" (it) subject, minimal rendering: renders 0 characters, the limit is 10..120`},
		{"markdown too short", pair("Oggetto lungo abbastanza", "Ciao {{.name}}", name),
			`(it) markdown, minimal rendering: renders 5 characters, the limit is 80..10000`},
		{"markdown too long at worst", pair("Oggetto lungo abbastanza", longMD+"{{md .name}}",
			VarDef{Name: "name", Type: VarString, MaxLen: 5000}),
			`(it) markdown, worst-case rendering: renders 10094 characters, the limit is 80..10000`},
		{"english too long", TemplateDef{Name: "t", Vars: []VarDef{name}, Languages: map[string]TextPair{
			"it": {Subject: "Oggetto abbastanza lungo", Markdown: longMD},
			"en": {Subject: "Subject {{.name}} {{.name}} {{.name}}", Markdown: longMD}}},
			`template "t" (en) subject, worst-case rendering: renders 160 characters`},
		{"money worst case", pair("Importo {{money .a}} {{money .a}} {{money .a}} {{money .a}} {{money .a}} {{money .a}} {{money .a}} {{money .a}}", longMD,
			VarDef{Name: "a", Type: VarMoney}), "worst-case rendering: renders 135 characters"},
		{"undeclared variable", pair("Oggetto: {{.other}}", longMD, name), `map has no entry for key "other"`},
		{"parse error", pair("Oggetto: {{.name", longMD, name), `(it) subject: template: t/it/subject`},
		{"unknown function", pair("Oggetto: {{exec .name}}", longMD, name), `function "exec" not defined`},
		{"no italian", TemplateDef{Name: "t", Languages: map[string]TextPair{"en": {Subject: "x", Markdown: "y"}}}, "the Italian text is required"},
		{"bad language", TemplateDef{Name: "t", Languages: map[string]TextPair{"it": {Subject: "Oggetto abbastanza", Markdown: longMD}, "en_GB": {Subject: "x", Markdown: "y"}}}, "two-letter"},
		{"string without max", pair("Oggetto: {{.name}}", longMD, VarDef{Name: "name", Type: VarString}), "max_len"},
		{"unknown type", pair("Oggetto: {{.name}}", longMD, VarDef{Name: "name", Type: "blob"}), `unknown type "blob"`},
		{"duplicate variable", pair("Oggetto: {{.name}}", longMD, name, name), "declared twice"},
		{"no name", TemplateDef{}, "name: required"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTemplates(tc.def)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			var te *TemplateError
			if !errors.As(err, &te) {
				t.Fatalf("error %v, want a *TemplateError", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q\ndoes not contain %q", err, tc.want)
			}
		})
	}
}

func TestRenderChecksVariables(t *testing.T) {
	ts, err := ParseTemplates(DefaultPaymentTemplates())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		edit func(map[string]any)
		want string
	}{
		{func(v map[string]any) { delete(v, PayVarAmount) }, `template "payment-notice" (it) amount: missing`},
		{func(v map[string]any) { v[PayVarAmount] = "12,00" }, "must be an integer"},
		{func(v map[string]any) { v[PayVarAmount] = 0 }, "0 outside the declared 1..9999999999"},
		{func(v map[string]any) { v[PayVarName] = strings.Repeat("x", 101) }, "length 101 outside the declared 0..100"},
		{func(v map[string]any) { v[PayVarNAV] = "12345" }, "18-digit"},
		{func(v map[string]any) { v[PayVarDueDate] = "31/07/2026" }, "must be a date"},
		{func(v map[string]any) { v[PayVarDueDate] = "2026-07-31"; v[PayVarAmount] = float64(100) }, ""},
	} {
		v := paymentVars()
		tc.edit(v)
		_, _, err := ts.Render("it", v)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("unexpected %v", err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("error %v, want %q", err, tc.want)
		}
	}
}

func FuzzRenderPayment(f *testing.F) {
	ts, err := ParseTemplates(DefaultPaymentTemplates())
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Mario Rossi", "TARI", int64(100), "en")
	f.Add("*_[x](javascript:)", "`code`", int64(9999999999), "it")
	f.Fuzz(func(t *testing.T, name, subject string, amount int64, lang string) {
		v := paymentVars()
		v[PayVarName], v[PayVarSubject], v[PayVarAmount] = name, subject, amount
		s, md, err := ts.Render(lang, v)
		if err != nil {
			return
		}
		m := NewMessage{FiscalCode: fcAllowed, Content: MessageContent{Subject: s, Markdown: md}}
		if err := m.Validate(); err != nil {
			t.Errorf("accepted variables rendered an invalid message: %v", err)
		}
	})
}

func TestClipCountsUTF16Units(t *testing.T) {
	for _, tt := range []struct {
		n        int
		in, want string
	}{
		{3, "abcd", "abc"},
		{4, "abcd", "abcd"},
		{0, "abc", ""},
		{-1, "abc", ""},
		{3, "ab😀", "ab"},   // the emoji is 2 units: 4 > 3
		{4, "ab😀c", "ab😀"}, // 4 units, not 3 characters + 1
		{2, "èé", "èé"},    // BMP letters are one unit each
		{5, "😀😀😀", "😀😀"},
	} {
		if got := clip(tt.n, tt.in); got != tt.want {
			t.Errorf("clip(%d, %q) = %q, want %q", tt.n, tt.in, got, tt.want)
		}
		if got := clip(tt.n, tt.in); ioLen(got) > max(tt.n, 0) {
			t.Errorf("clip(%d, %q) is %d units long", tt.n, tt.in, ioLen(got))
		}
	}
}
