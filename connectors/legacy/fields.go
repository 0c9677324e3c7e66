package legacy

import (
	"fmt"
	"strings"
	"time"
)

// DateLayout is a compiled dateFormat: how one source writes its dates.
type DateLayout struct {
	format     string // as declared, for messages
	goLayout   string // "" for the lenient dd/mm/yyyy and iso forms
	sep        byte
	yi, mi, di int
}

// CompileDateLayout understands the date formats a source may declare:
//   - dd/mm/yyyy (also 1-digit day and month) and iso (yyyy-mm-dd), the historic two;
//   - patterns of YYYY (or AAAA), MM and DD (or GG) with any separators or none, in any
//     case: YYYYMMDD, DDMMYYYY, DD.MM.YYYY, gg-mm-aaaa;
//   - a strftime layout with %Y, %m, %d (also %-m, %-d): %d/%m/%Y;
//   - a Go layout containing 2006: 02.01.2006, 20060102.
//
// A format that cannot write and read back a date with its year, month and day is
// refused here, at config load, rather than on every row.
func CompileDateLayout(format string) (*DateLayout, error) {
	l := &DateLayout{format: format}
	switch strings.ToLower(format) {
	case "", DateDMY:
		l.format, l.sep, l.yi, l.mi, l.di = DateDMY, '/', 2, 1, 0
		return l, nil
	case DateISO, "yyyy-mm-dd":
		l.format, l.sep, l.yi, l.mi, l.di = "aaaa-mm-gg", '-', 0, 1, 2
		return l, nil
	}
	var goLayout string
	var err error
	switch {
	case strings.Contains(format, "%"):
		goLayout, err = strftimeToGo(format)
	case strings.Contains(format, "2006"):
		goLayout = format
	default:
		goLayout, err = patternToGo(format)
	}
	if err != nil {
		return nil, err
	}
	ref := time.Date(2034, 11, 25, 0, 0, 0, 0, time.UTC)
	back, perr := time.Parse(goLayout, ref.Format(goLayout))
	if perr != nil || back.Year() != 2034 || back.Month() != 11 || back.Day() != 25 {
		return nil, fmt.Errorf("date format %q does not give year, month and day (use e.g. YYYYMMDD, DD/MM/YYYY, %%d.%%m.%%Y or the Go layout 02.01.2006)", format)
	}
	l.goLayout = goLayout
	return l, nil
}

func strftimeToGo(f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			if f[i] >= '0' && f[i] <= '9' || isLetter(f[i]) {
				return "", fmt.Errorf("date format %q: only %%Y, %%m, %%d and separators are allowed", f)
			}
			b.WriteByte(f[i])
			continue
		}
		rest := f[i+1:]
		switch {
		case strings.HasPrefix(rest, "Y"):
			b.WriteString("2006")
		case strings.HasPrefix(rest, "m"):
			b.WriteString("01")
		case strings.HasPrefix(rest, "d"):
			b.WriteString("02")
		case strings.HasPrefix(rest, "-m"):
			b.WriteString("1")
			i++
		case strings.HasPrefix(rest, "-d"):
			b.WriteString("2")
			i++
		case strings.HasPrefix(rest, "%"):
			b.WriteByte('%')
		default:
			return "", fmt.Errorf("date format %q: unsupported directive at byte %d (use %%Y, %%m, %%d, %%-m, %%-d)", f, i+1)
		}
		i++
	}
	return b.String(), nil
}

func patternToGo(f string) (string, error) {
	var b strings.Builder
	for i := 0; i < len(f); {
		c := f[i]
		if !isLetter(c) {
			if c >= '0' && c <= '9' {
				return "", fmt.Errorf("date format %q: digits are not allowed in a pattern (use YYYY, MM, DD and separators)", f)
			}
			b.WriteByte(c)
			i++
			continue
		}
		j := i
		for j < len(f) && isLetter(f[j]) {
			j++
		}
		tok := strings.ToUpper(f[i:j])
		// A run such as YYYYMMDD has no separators: split it into its tokens.
		for tok != "" {
			switch {
			case strings.HasPrefix(tok, "YYYY"), strings.HasPrefix(tok, "AAAA"):
				b.WriteString("2006")
				tok = tok[4:]
			case strings.HasPrefix(tok, "MM"):
				b.WriteString("01")
				tok = tok[2:]
			case strings.HasPrefix(tok, "DD"), strings.HasPrefix(tok, "GG"):
				b.WriteString("02")
				tok = tok[2:]
			default:
				return "", fmt.Errorf("date format %q: %q is not YYYY (AAAA), MM or DD (GG)", f, tok)
			}
		}
		i = j
	}
	return b.String(), nil
}

// Format is the layout as declared.
func (l *DateLayout) Format() string { return l.format }

// Parse reads a due date in the layout and returns it as YYYY-MM-DD. Years outside
// 2000–2099 are rejected: these are due dates.
func (l *DateLayout) Parse(s string) (string, error) {
	const f = "dueDate"
	v := strings.TrimSpace(s)
	if v == "" {
		return "", ferr(f, s, "required", "data mancante", "date is missing")
	}
	bad := func() error { // built only for a bad date: this runs on every row
		return ferr(f, s, "format", fmt.Sprintf("la data deve essere nel formato %s (dateFormat)", l.itFormat()),
			fmt.Sprintf("date must be in the %s format (dateFormat)", l.format))
	}
	var y, m, d int
	if l.goLayout == "" {
		var ok bool
		if y, m, d, ok = splitDate(v, l.sep, l.yi, l.mi, l.di); !ok {
			return "", bad()
		}
	} else {
		t, err := time.Parse(l.goLayout, v)
		if err != nil {
			if strings.Contains(err.Error(), "out of range") {
				return "", ferr(f, s, "date", "la data non esiste nel calendario", "date does not exist in the calendar")
			}
			return "", bad()
		}
		y, m, d = t.Year(), int(t.Month()), t.Day()
	}
	t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, time.UTC)
	if t.Year() != y || int(t.Month()) != m || t.Day() != d {
		return "", ferr(f, s, "date", "la data non esiste nel calendario", "date does not exist in the calendar")
	}
	if y < 2000 || y > 2099 {
		return "", ferr(f, s, "range", "l'anno deve essere compreso tra 2000 e 2099", "year must be between 2000 and 2099")
	}
	return t.Format("2006-01-02"), nil
}

func (l *DateLayout) itFormat() string {
	if l.format == DateDMY {
		return "gg/mm/aaaa"
	}
	return l.format
}

// IBAN country policies (ValueFormat.IBANCountries).
const (
	IBANItaly = "IT"   // Italian IBANs only
	IBANSEPA  = "SEPA" // any country of the SEPA scheme
)

// sepaCountries are the IBAN countries of the SEPA scheme (EU, EEA, and the
// non-EEA members whose IBANs a comune may meet: CH, GB, SM, VA, MC, AD, GI).
var sepaCountries = map[string]bool{
	"AT": true, "BE": true, "BG": true, "CY": true, "CZ": true, "DE": true, "DK": true, "EE": true, "ES": true,
	"FI": true, "FR": true, "GR": true, "HR": true, "HU": true, "IE": true, "IT": true, "LT": true, "LU": true,
	"LV": true, "MT": true, "NL": true, "PL": true, "PT": true, "RO": true, "SE": true, "SI": true, "SK": true,
	"IS": true, "LI": true, "NO": true, "CH": true, "GB": true, "SM": true, "VA": true, "MC": true, "AD": true, "GI": true,
}

// ValidateIBANPolicy is ValidateIBAN plus the country policy: IBANItaly (default, also
// "") accepts Italian IBANs only, IBANSEPA any SEPA country.
func ValidateIBANPolicy(s, policy string) error {
	if err := ValidateIBAN(s); err != nil {
		return err
	}
	cc := NormalizeIBAN(s)[:2]
	switch policy {
	case IBANSEPA:
		if !sepaCountries[cc] {
			return ferr("iban", s, "country", fmt.Sprintf("IBAN di un paese fuori dall'area SEPA (%s)", cc),
				fmt.Sprintf("IBAN of a country outside the SEPA area (%s)", cc))
		}
	default:
		if cc != "IT" {
			return ferr("iban", s, "country", fmt.Sprintf("è ammesso solo un IBAN italiano, questo è %s: impostare ibanCountries a SEPA per accettare conti esteri", cc),
				fmt.Sprintf("only Italian IBANs are accepted, this one is %s: set ibanCountries to SEPA to accept foreign accounts", cc))
		}
	}
	return nil
}

// NormalizePhoneIT turns a phone number as people type it (spaces, dots, dashes,
// slashes, parentheses, a 0039 or +39 prefix or none) into E.164. A number without a
// prefix is Italian: mobile numbers start with 3 (9–10 digits), landlines with 0 (6–11
// digits). A number with another country prefix is kept if E.164 allows it (at most 15
// digits).
func NormalizePhoneIT(s string) (string, error) {
	const f = "phone"
	bad := func(it, en string) error { return ferr(f, s, "phone", it, en) }
	var b strings.Builder
	v := strings.TrimSpace(s)
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			b.WriteByte(c)
		case c == '+' && b.Len() == 0 && i == 0:
			b.WriteByte(c)
		case c == ' ' || c == '.' || c == '-' || c == '/' || c == '(' || c == ')':
		default:
			return "", bad("il numero di telefono contiene caratteri non ammessi", "phone number contains characters other than digits and separators")
		}
	}
	n := b.String()
	if strings.HasPrefix(n, "00") {
		n = "+" + n[2:]
	}
	national := n
	switch {
	case strings.HasPrefix(n, "+39"):
		national = n[3:]
	case strings.HasPrefix(n, "+"):
		if len(n)-1 < 8 || len(n)-1 > 15 || n[1] == '0' {
			return "", bad("numero internazionale non valido (E.164: prefisso del paese e al massimo 15 cifre)", "international number is not valid (E.164: country code and at most 15 digits)")
		}
		return n, nil
	}
	switch {
	case strings.HasPrefix(national, "3") && len(national) >= 9 && len(national) <= 10:
	case strings.HasPrefix(national, "0") && len(national) >= 6 && len(national) <= 11:
	default:
		return "", bad("numero italiano non valido: un cellulare inizia con 3 (9–10 cifre), un fisso con 0 (6–11 cifre)",
			"Italian number is not valid: a mobile starts with 3 (9–10 digits), a landline with 0 (6–11 digits)")
	}
	return "+39" + national, nil
}

// ValidateISTAT checks an ISTAT comune code: 6 digits, the province's 3 and the
// comune's progressive 3, neither 000.
func ValidateISTAT(s string) error {
	v := strings.TrimSpace(s)
	ok := len(v) == 6 && isDigits(v) && v[:3] != "000" && v[3:] != "000"
	if !ok {
		return ferr("istat", s, "format", "il codice ISTAT del comune ha 6 cifre (3 della provincia, 3 del comune), ad es. 058091",
			"an ISTAT comune code has 6 digits (3 for the province, 3 for the comune), e.g. 058091")
	}
	return nil
}

// ValidateCadastralCode checks a codice catastale (Belfiore code) of a comune or, with
// Z, of a foreign country: a letter and 3 digits, e.g. H501 (Roma).
func ValidateCadastralCode(s string) error {
	v := strings.ToUpper(strings.TrimSpace(s))
	if len(v) != 4 || v[0] < 'A' || v[0] > 'Z' || !isDigits(v[1:]) || v[1:] == "000" {
		return ferr("cadastralCode", s, "format", "il codice catastale è una lettera e 3 cifre, ad es. H501",
			"a cadastral (Belfiore) code is a letter and 3 digits, e.g. H501")
	}
	return nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
