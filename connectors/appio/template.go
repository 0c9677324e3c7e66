package appio

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
	"unicode/utf8"
)

// Variable types of a template.
const (
	VarString = "string" // text, at most MaxLen characters
	VarMoney  = "money"  // euro cents (integer), 1..MaxAmount unless Min/Max say
	VarDate   = "date"   // time.Time or "2006-01-02"
	VarNAV    = "nav"    // 18-digit notice number
	VarInt    = "int"    // integer, Min..Max
)

// DefaultLanguage is used when no preferred language of a citizen has a
// template.
const DefaultLanguage = "it"

// TemplateDef declares a message template: its variables and, per
// language ("it", "en"), the text/template sources of subject and markdown.
type TemplateDef struct {
	Name      string              `json:"name"`
	Vars      []VarDef            `json:"vars"`
	Languages map[string]TextPair `json:"languages"`
}

// TextPair is the template source of one language.
type TextPair struct {
	Subject  string `json:"subject"`
	Markdown string `json:"markdown"`
}

// VarDef declares one variable. Bounds make load-time checking possible:
// strings need MaxLen; numbers default to the spec's amount range.
type VarDef struct {
	Name   string `json:"name"`
	Type   string `json:"type"`
	MinLen int    `json:"min_len,omitempty"`
	MaxLen int    `json:"max_len,omitempty"`
	Min    int64  `json:"min,omitempty"`
	Max    int64  `json:"max,omitempty"`
}

// TemplateError says which template, language and part broke which rule.
type TemplateError struct {
	Template string
	Lang     string
	// Part is "subject", "markdown", "vars" or a variable name.
	Part string
	// Sample is "minimal" or "worst-case" for load-time renderings, "" else.
	Sample string
	Err    error
}

func (e *TemplateError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "appio: template %q", e.Template)
	if e.Lang != "" {
		fmt.Fprintf(&b, " (%s)", e.Lang)
	}
	if e.Part != "" {
		b.WriteString(" " + e.Part)
	}
	if e.Sample != "" {
		b.WriteString(", " + e.Sample + " rendering")
	}
	b.WriteString(": " + e.Err.Error())
	return b.String()
}

// Unwrap returns the underlying error.
func (e *TemplateError) Unwrap() error { return e.Err }

// TemplateSet is a parsed, checked TemplateDef. It is safe for concurrent
// use.
type TemplateSet struct {
	name  string
	vars  []VarDef
	langs map[string]*langTemplates
}

type langTemplates struct{ subject, markdown *template.Template }

// ParseTemplates parses def and rejects it when a rendering could fall
// outside the spec's limits (subject 10..120, markdown 80..10000
// characters). Every language is rendered twice, with a minimal sample
// (shortest strings, smallest numbers) and a worst-case sample (strings of
// MaxLen characters that double under mdEscape, the largest amounts), and
// both must fit. This covers templates whose length grows with their
// inputs; a template whose length depends on values in other ways (an {{if}}
// on a value) may still render out of bounds for some input, which Render
// reports as a *TemplateError instead of letting the message go out.
func ParseTemplates(def TemplateDef) (*TemplateSet, error) {
	ts := &TemplateSet{name: def.Name, vars: slices.Clone(def.Vars), langs: map[string]*langTemplates{}}
	fail := func(lang, part, sample string, err error) error {
		return &TemplateError{Template: def.Name, Lang: lang, Part: part, Sample: sample, Err: err}
	}
	if def.Name == "" {
		return nil, fail("", "name", "", errors.New("required"))
	}
	seen := map[string]bool{}
	for _, v := range def.Vars {
		if err := v.check(); err != nil {
			return nil, fail("", "vars", "", err)
		}
		if seen[v.Name] {
			return nil, fail("", "vars", "", fmt.Errorf("variable %q declared twice", v.Name))
		}
		seen[v.Name] = true
	}
	if _, ok := def.Languages[DefaultLanguage]; !ok {
		return nil, fail(DefaultLanguage, "", "", errors.New("the Italian text is required (it is the fallback language)"))
	}
	minimal, worst := ts.samples()
	langs := make([]string, 0, len(def.Languages))
	for l := range def.Languages {
		langs = append(langs, l)
	}
	slices.Sort(langs)
	for _, lang := range langs {
		if lang != normLang(lang) {
			return nil, fail(lang, "", "", errors.New(`language must be a two-letter lower-case code like "it" or "en"`))
		}
		src := def.Languages[lang]
		lt := &langTemplates{}
		var err error
		if lt.subject, err = parseOne(def.Name+"/"+lang+"/subject", src.Subject, lang); err != nil {
			return nil, fail(lang, "subject", "", err)
		}
		if lt.markdown, err = parseOne(def.Name+"/"+lang+"/markdown", src.Markdown, lang); err != nil {
			return nil, fail(lang, "markdown", "", err)
		}
		ts.langs[lang] = lt
		for _, smp := range []struct {
			name string
			vars map[string]any
		}{{"minimal", minimal}, {"worst-case", worst}} {
			if _, _, err := ts.render(lang, smp.vars, smp.name); err != nil {
				return nil, err
			}
		}
	}
	return ts, nil
}

func parseOne(name, src, lang string) (*template.Template, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty template")
	}
	return template.New(name).Option("missingkey=error").Funcs(templateFuncs(lang)).Parse(src)
}

func (v VarDef) check() error {
	if v.Name == "" || !isIdent(v.Name) {
		return fmt.Errorf("variable name %q must be a Go identifier (letters, digits, _)", v.Name)
	}
	switch v.Type {
	case VarString:
		if v.MaxLen <= 0 || v.MinLen < 0 || v.MinLen > v.MaxLen {
			return fmt.Errorf("string variable %q needs 0 <= min_len <= max_len and max_len > 0", v.Name)
		}
	case VarMoney, VarInt:
		lo, hi := v.bounds()
		if lo > hi {
			return fmt.Errorf("variable %q: min %d > max %d", v.Name, lo, hi)
		}
	case VarDate, VarNAV:
	default:
		return fmt.Errorf("variable %q: unknown type %q (want string, money, date, nav or int)", v.Name, v.Type)
	}
	return nil
}

func (v VarDef) bounds() (int64, int64) {
	lo, hi := v.Min, v.Max
	if v.Type == VarMoney {
		if lo == 0 {
			lo = MinAmount
		}
		if hi == 0 {
			hi = MaxAmount
		}
	} else if hi == 0 {
		hi = MaxAmount
	}
	return lo, hi
}

func isIdent(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// samples builds the minimal and worst-case variable sets.
func (t *TemplateSet) samples() (minimal, worst map[string]any) {
	minimal, worst = map[string]any{}, map[string]any{}
	for _, v := range t.vars {
		switch v.Type {
		case VarString:
			minimal[v.Name] = strings.Repeat("a", v.MinLen)
			// '*' is escaped by mdEscape to two characters: the longest
			// rendering a string can have.
			worst[v.Name] = strings.Repeat("*", v.MaxLen)
		case VarMoney, VarInt:
			lo, hi := v.bounds()
			minimal[v.Name], worst[v.Name] = lo, hi
		case VarDate:
			d := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			minimal[v.Name], worst[v.Name] = d, d
		case VarNAV:
			minimal[v.Name], worst[v.Name] = "301000000000000144", "301000000000000144"
		}
	}
	return minimal, worst
}

// Languages returns the template's languages, sorted.
func (t *TemplateSet) Languages() []string {
	out := make([]string, 0, len(t.langs))
	for l := range t.langs {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// Language picks the language for a citizen from their profile's
// preferred_languages ("it_IT", "en_GB", …, in order): the first one the
// set has, else DefaultLanguage.
func (t *TemplateSet) Language(preferred []string) string {
	for _, p := range preferred {
		if _, ok := t.langs[normLang(p)]; ok {
			return normLang(p)
		}
	}
	return DefaultLanguage
}

func normLang(l string) string {
	l = strings.ToLower(strings.TrimSpace(l))
	if i := strings.IndexAny(l, "_-"); i >= 0 {
		l = l[:i]
	}
	return l
}

// Render renders subject and markdown in lang ("en", "en_GB"…; a language
// the set lacks falls back to Italian). Every declared variable must be in
// vars with the declared type and bounds; the result is checked against
// the spec's limits. Errors are *TemplateError.
func (t *TemplateSet) Render(lang string, vars map[string]any) (subject, markdown string, err error) {
	lang = normLang(lang)
	if _, ok := t.langs[lang]; !ok {
		lang = DefaultLanguage
	}
	for _, v := range t.vars {
		if err := v.checkValue(vars[v.Name]); err != nil {
			return "", "", &TemplateError{Template: t.name, Lang: lang, Part: v.Name, Err: err}
		}
	}
	return t.render(lang, vars, "")
}

func (t *TemplateSet) render(lang string, vars map[string]any, sample string) (string, string, error) {
	lt := t.langs[lang]
	var parts [2]string
	for i, p := range []struct {
		name   string
		tpl    *template.Template
		lo, hi int
	}{{"subject", lt.subject, SubjectMinLen, SubjectMaxLen}, {"markdown", lt.markdown, MarkdownMinLen, MarkdownMaxLen}} {
		var b strings.Builder
		if err := p.tpl.Execute(&b, vars); err != nil {
			return "", "", &TemplateError{Template: t.name, Lang: lang, Part: p.name, Sample: sample, Err: err}
		}
		s := b.String()
		if n := ioLen(s); n < p.lo || n > p.hi {
			return "", "", &TemplateError{Template: t.name, Lang: lang, Part: p.name, Sample: sample,
				Err: fmt.Errorf("renders %d characters, the limit is %d..%d", n, p.lo, p.hi)}
		}
		parts[i] = s
	}
	return parts[0], parts[1], nil
}

func (v VarDef) checkValue(x any) error {
	if x == nil {
		return errors.New("missing")
	}
	switch v.Type {
	case VarString:
		s, ok := x.(string)
		if !ok {
			return fmt.Errorf("must be a string, is %T", x)
		}
		if n := utf8.RuneCountInString(s); n < v.MinLen || n > v.MaxLen {
			return fmt.Errorf("length %d outside the declared %d..%d", n, v.MinLen, v.MaxLen)
		}
	case VarMoney, VarInt:
		n, ok := toInt64(x)
		if !ok {
			return fmt.Errorf("must be an integer, is %T", x)
		}
		if lo, hi := v.bounds(); n < lo || n > hi {
			return fmt.Errorf("%d outside the declared %d..%d", n, lo, hi)
		}
	case VarDate:
		if _, err := toDate(x); err != nil {
			return err
		}
	case VarNAV:
		s, ok := x.(string)
		if !ok || !noticeNumberRE.MatchString(s) {
			return errors.New("must be an 18-digit notice number")
		}
	}
	return nil
}

func toInt64(x any) (int64, bool) {
	switch n := x.(type) {
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int64:
		return n, true
	case uint32:
		return int64(n), true
	case float64: // numbers decoded from JSON
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), true
		}
	}
	return 0, false
}

func toDate(x any) (time.Time, error) {
	switch d := x.(type) {
	case time.Time:
		return d, nil
	case *time.Time:
		if d != nil {
			return *d, nil
		}
	case string:
		if t, err := time.Parse("2006-01-02", d); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("must be a date (time.Time or YYYY-MM-DD), is %T", x)
}

// templateFuncs is the small, side-effect-free function set of templates:
//
//	money  cents → "€ 1.234,56" (it) or "€1,234.56" (en)
//	date   time or YYYY-MM-DD → "02/01/2006"
//	nav    notice number → "3010 0000 0000 0001 44"
//	md     escapes Markdown punctuation in text from outside
//	clip   n s → s cut to n characters
//	upper  upper case
func templateFuncs(lang string) template.FuncMap {
	return template.FuncMap{
		"money": func(x any) (string, error) {
			n, ok := toInt64(x)
			if !ok {
				return "", fmt.Errorf("money: %T is not an amount in cents", x)
			}
			return FormatEuro(n, lang), nil
		},
		"date": func(x any) (string, error) {
			d, err := toDate(x)
			if err != nil {
				return "", err
			}
			return d.Format("02/01/2006"), nil
		},
		"nav": func(s string) string {
			var b strings.Builder
			for i, r := range s {
				if i > 0 && i%4 == 0 {
					b.WriteByte(' ')
				}
				b.WriteRune(r)
			}
			return b.String()
		},
		"md":    mdEscape,
		"clip":  clip,
		"upper": strings.ToUpper,
	}
}

// FormatEuro formats cents as euro: "€ 1.234,56" in Italian (and for any
// language but English), "€1,234.56" in English.
func FormatEuro(cents int64, lang string) string {
	neg := cents < 0
	if neg {
		cents = -cents
	}
	thou, dec := ".", ","
	prefix := "€ "
	if normLang(lang) == "en" {
		thou, dec, prefix = ",", ".", "€"
	}
	whole := strconv.FormatInt(cents/100, 10)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteString(thou)
		}
		b.WriteRune(r)
	}
	s := prefix + b.String() + dec + fmt.Sprintf("%02d", cents%100)
	if neg {
		s = "-" + s
	}
	return s
}

// mdEscape backslash-escapes the Markdown punctuation that could turn text
// inside a line into formatting, code or a link. Characters that matter
// only at the start of a line (-, +, ., #…) are left alone but for #: the
// templates put variables inside lines.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\`*_[]#|<>~", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Payment-notice template variables (DefaultPaymentTemplates).
const (
	PayVarName         = "name"         // debtor's full name, ≤ 100 characters
	PayVarOrganization = "organization" // creditor's name, ≤ 100 characters
	PayVarSubject      = "subject"      // what the notice is for, ≤ 200 characters (clipped in the subject)
	PayVarAmount       = "amount"       // cents
	PayVarDueDate      = "due_date"     // time.Time or YYYY-MM-DD
	PayVarNAV          = "nav"          // notice number
)

// DefaultPaymentTemplates is the payment-notice message in Italian and
// English. Variables: see the PayVar* constants.
func DefaultPaymentTemplates() TemplateDef {
	return TemplateDef{
		Name: "payment-notice",
		Vars: []VarDef{
			{Name: PayVarName, Type: VarString, MaxLen: 100},
			{Name: PayVarOrganization, Type: VarString, MinLen: 1, MaxLen: 100},
			{Name: PayVarSubject, Type: VarString, MinLen: 1, MaxLen: 200},
			{Name: PayVarAmount, Type: VarMoney},
			{Name: PayVarDueDate, Type: VarDate},
			{Name: PayVarNAV, Type: VarNAV},
		},
		Languages: map[string]TextPair{
			"it": {
				Subject: `Avviso di pagamento: {{clip 99 .subject}}`,
				Markdown: `Gentile {{with .name}}{{md .}}{{else}}contribuente{{end}},

{{md .organization}} ha emesso un avviso di pagamento pagoPA per **{{md .subject}}**.

- Importo: **{{money .amount}}**
- Scadenza: **{{date .due_date}}**
- Codice avviso: ` + "`{{nav .nav}}`" + `

Puoi pagare direttamente in app con il pulsante qui sotto, oppure presso qualsiasi prestatore pagoPA indicando il codice avviso.`,
			},
			"en": {
				Subject: `Payment notice: {{clip 104 .subject}}`,
				Markdown: `Dear {{with .name}}{{md .}}{{else}}taxpayer{{end}},

{{md .organization}} has issued a pagoPA payment notice for **{{md .subject}}**.

- Amount: **{{money .amount}}**
- Due date: **{{date .due_date}}**
- Notice code: ` + "`{{nav .nav}}`" + `

You can pay directly in the app with the button below, or at any pagoPA payment provider using the notice code.`,
			},
		},
	}
}

// clip cuts s to at most n UTF-16 code units, the unit App IO counts
// lengths in (see ioLen), never splitting a character: {{clip 120 .x}}
// keeps a subject within App IO's limit even when x holds emoji.
func clip(n int, s string) string {
	if ioLen(s) <= n {
		return s
	}
	units := 0
	for i, r := range s {
		w := 1
		if r > 0xFFFF {
			w = 2
		}
		if units+w > n {
			return s[:i]
		}
		units += w
	}
	return s
}

// Clip cuts s to at most n UTF-16 code units, as App IO counts lengths,
// never splitting a character.
func Clip(n int, s string) string { return clip(n, s) }
