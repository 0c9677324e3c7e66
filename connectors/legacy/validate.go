package legacy

import (
	"fmt"
	"net/mail"
	"strconv"
	"strings"
)

// FieldError is the typed error returned by every validator: the canonical field, the
// offending value, the rule that failed and a message in Italian and English.
type FieldError struct {
	Field     string // canonical field name, e.g. fiscalCode
	Value     string
	Rule      string // e.g. checksum, length, format, month, day, decimals, positive
	MessageIT string
	MessageEN string
}

// Error returns the English message.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return e.Rule + ": " + e.MessageEN
	}
	return e.Field + ": " + e.Rule + ": " + e.MessageEN
}

func ferr(field, value, rule, it, en string) *FieldError {
	return &FieldError{Field: field, Value: value, Rule: rule, MessageIT: it, MessageEN: en}
}

// Values of characters in odd (1st, 3rd, ...) positions for the codice fiscale check
// character and the IBAN CIN; digits map like the letter at the same index (0→A, ...).
var oddValues = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// checkChar computes the control letter used by the codice fiscale (over its first 15
// characters) and by the Italian IBAN CIN (over ABI+CAB+account). s must be [0-9A-Z]*.
func checkChar(s string) byte {
	sum := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var v int
		if c >= '0' && c <= '9' {
			v = int(c - '0')
		} else {
			v = int(c - 'A')
		}
		if i%2 == 0 {
			sum += oddValues[v]
		} else {
			sum += v
		}
	}
	return byte('A' + sum%26)
}

// CodiceFiscaleCheckChar returns the control character for the first 15 characters of a
// personal codice fiscale (upper case). It is exported for test-data generators.
func CodiceFiscaleCheckChar(first15 string) (byte, error) {
	if len(first15) != 15 || !isUpperAlnum(first15) {
		return 0, ferr("fiscalCode", first15, "format", "servono 15 caratteri alfanumerici", "need 15 alphanumeric characters")
	}
	return checkChar(first15), nil
}

func isUpperAlnum(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}

const omocodia = "LMNPQRSTUV" // replaces digits 0-9 in positions that may collide
var monthLetters = "ABCDEHLMPRST"

// omocodiaDigit returns the digit a character stands for in an omocodia-capable position.
func omocodiaDigit(c byte) (int, bool) {
	if c >= '0' && c <= '9' {
		return int(c - '0'), true
	}
	if i := strings.IndexByte(omocodia, c); i >= 0 {
		return i, true
	}
	return 0, false
}

// NormalizeCodiceFiscale upper-cases and trims a fiscal code as typed by people.
func NormalizeCodiceFiscale(s string) string {
	return strings.ToUpper(strings.TrimSpace(s))
}

// ValidateCodiceFiscale checks an Italian codice fiscale: the 16-character code of a
// natural person (layout, omocodia substitutions, month letter, day 1–31 or 41–71 for
// women, control character) or the 11-digit numeric code of a legal person (checksum).
// Letters may be lower case; callers should store NormalizeCodiceFiscale(s).
func ValidateCodiceFiscale(s string) error {
	const f = "fiscalCode"
	cf := NormalizeCodiceFiscale(s)
	switch len(cf) {
	case 11:
		return validateNumeric11(f, s, cf, "codice fiscale")
	case 16:
	case 0:
		return ferr(f, s, "required", "codice fiscale mancante", "fiscal code is missing")
	default:
		return ferr(f, s, "length", fmt.Sprintf("il codice fiscale deve avere 16 caratteri (11 cifre per le persone giuridiche), ne ha %d", len(cf)),
			fmt.Sprintf("fiscal code must have 16 characters (11 digits for legal persons), got %d", len(cf)))
	}
	if !isUpperAlnum(cf) {
		return ferr(f, s, "format", "il codice fiscale contiene caratteri non ammessi", "fiscal code contains characters other than letters and digits")
	}
	for _, i := range []int{0, 1, 2, 3, 4, 5, 8, 11, 15} {
		if cf[i] < 'A' || cf[i] > 'Z' {
			return ferr(f, s, "format", fmt.Sprintf("il carattere %d del codice fiscale deve essere una lettera", i+1),
				fmt.Sprintf("character %d of the fiscal code must be a letter", i+1))
		}
	}
	digits := [7]int{}
	for k, i := range []int{6, 7, 9, 10, 12, 13, 14} {
		d, ok := omocodiaDigit(cf[i])
		if !ok {
			return ferr(f, s, "format", fmt.Sprintf("il carattere %d del codice fiscale deve essere una cifra (o una lettera di omocodia LMNPQRSTUV)", i+1),
				fmt.Sprintf("character %d of the fiscal code must be a digit (or an omocodia letter LMNPQRSTUV)", i+1))
		}
		digits[k] = d
	}
	month := strings.IndexByte(monthLetters, cf[8]) + 1
	if month == 0 {
		return ferr(f, s, "month", fmt.Sprintf("la lettera del mese %q non è valida (ammesse: %s)", cf[8], monthLetters),
			fmt.Sprintf("month letter %q is not valid (allowed: %s)", cf[8], monthLetters))
	}
	day := digits[2]*10 + digits[3]
	if day > 40 {
		day -= 40
	}
	maxDay := [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}[month]
	if day < 1 || day > maxDay {
		return ferr(f, s, "day", "il giorno di nascita non è valido (1–31 per gli uomini, 41–71 per le donne)",
			"birth day is not valid (1–31 for men, 41–71 for women)")
	}
	if want := checkChar(cf[:15]); cf[15] != want {
		return ferr(f, s, "checksum", "il carattere di controllo del codice fiscale è errato: verificare la trascrizione",
			"fiscal code check character is wrong: check for typos")
	}
	return nil
}

// luhn11 reports whether the 11-digit string has a valid partita IVA style check digit.
func luhn11(s string) bool {
	sum := 0
	for i := 0; i < 10; i++ {
		d := int(s[i] - '0')
		if i%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10-sum%10)%10 == int(s[10]-'0')
}

func validateNumeric11(field, raw, s, what string) error {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return ferr(field, raw, "format", fmt.Sprintf("il %s di 11 caratteri deve contenere solo cifre", what),
				fmt.Sprintf("an 11-character %s must contain digits only", enName(what)))
		}
	}
	if s == "00000000000" {
		return ferr(field, raw, "format", fmt.Sprintf("il %s non può essere composto da soli zeri", what),
			fmt.Sprintf("%s cannot be all zeros", enName(what)))
	}
	if !luhn11(s) {
		return ferr(field, raw, "checksum", fmt.Sprintf("la cifra di controllo del %s è errata: verificare la trascrizione", what),
			fmt.Sprintf("%s check digit is wrong: check for typos", enName(what)))
	}
	return nil
}

func enName(what string) string {
	if what == "codice fiscale" {
		return "fiscal code"
	}
	return "VAT number"
}

// ValidateNumericFiscalCode checks the 11-digit fiscal code of a legal person or ente
// (digits only, not all zeros, check digit).
func ValidateNumericFiscalCode(s string) error {
	if len(s) != 11 {
		return ferr("fiscalCode", s, "length", fmt.Sprintf("il codice fiscale numerico deve avere 11 cifre, ne ha %d", len(s)),
			fmt.Sprintf("numeric fiscal code must have 11 digits, got %d", len(s)))
	}
	return validateNumeric11("fiscalCode", s, s, "codice fiscale")
}

// ValidatePartitaIVA checks an Italian VAT number: 11 digits, a valid provincial office
// code (001–100, 120, 121, 888, 999) and the check digit. An "IT" prefix is accepted.
func ValidatePartitaIVA(s string) error {
	const f = "vatNumber"
	v := strings.TrimPrefix(strings.ToUpper(strings.TrimSpace(s)), "IT")
	if len(v) != 11 {
		return ferr(f, s, "length", fmt.Sprintf("la partita IVA deve avere 11 cifre, ne ha %d", len(v)),
			fmt.Sprintf("VAT number must have 11 digits, got %d", len(v)))
	}
	if err := validateNumeric11(f, s, v, "partita IVA"); err != nil {
		return err
	}
	office, _ := strconv.Atoi(v[7:10])
	if !(office >= 1 && office <= 100 || office == 120 || office == 121 || office == 888 || office == 999) {
		return ferr(f, s, "office", fmt.Sprintf("il codice ufficio %s della partita IVA non esiste", v[7:10]),
			fmt.Sprintf("VAT number office code %s does not exist", v[7:10]))
	}
	return nil
}

var ibanLengths = map[string]int{
	"IT": 27, "SM": 27, "VA": 22, "DE": 22, "FR": 27, "ES": 24, "AT": 20, "BE": 16, "NL": 18,
	"PT": 25, "IE": 22, "LU": 20, "CH": 21, "GB": 22, "SI": 19, "HR": 21, "GR": 27, "MT": 31,
	"PL": 28, "CZ": 24, "SK": 24, "HU": 28, "RO": 24, "BG": 22, "DK": 18, "SE": 24, "FI": 18,
	"NO": 15, "LI": 21, "MC": 27, "EE": 20, "LV": 21, "LT": 20, "CY": 28, "IS": 26,
	"AD": 24, "GI": 23,
}

// NormalizeIBAN removes spaces and upper-cases an IBAN.
func NormalizeIBAN(s string) string {
	return strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
}

// ibanMod97 computes the ISO 13616 remainder of an IBAN with the check digits in place.
func ibanMod97(iban string) int {
	r := iban[4:] + iban[:4]
	rem := 0
	for i := 0; i < len(r); i++ {
		c := r[i]
		if c >= '0' && c <= '9' {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A') + 10) % 97
		}
	}
	return rem
}

// IBANCheckDigits returns the two ISO 13616 check digits for an IBAN whose check digits
// are unknown (any two characters in positions 3–4). Exported for test-data generators.
func IBANCheckDigits(iban string) string {
	iban = NormalizeIBAN(iban)
	x := iban[:2] + "00" + iban[4:]
	return fmt.Sprintf("%02d", 98-ibanMod97(x))
}

// ItalianCIN returns the CIN letter of an Italian bank account from ABI (5 digits),
// CAB (5 digits) and account number (12 characters).
func ItalianCIN(abi, cab, account string) byte {
	return checkChar(abi + cab + account)
}

// ValidateIBAN checks an IBAN: known country length, characters, ISO 13616 mod-97 and,
// for Italian IBANs, the structure (CIN letter, 5-digit ABI, 5-digit CAB, 12-character
// account) and the CIN. Spaces are ignored and letters may be lower case.
func ValidateIBAN(s string) error {
	const f = "iban"
	v := NormalizeIBAN(s)
	if v == "" {
		return ferr(f, s, "required", "IBAN mancante", "IBAN is missing")
	}
	if len(v) < 15 || len(v) > 34 || !isUpperAlnum(v) || v[0] < 'A' || v[0] > 'Z' || v[1] < 'A' || v[1] > 'Z' || v[2] < '0' || v[2] > '9' || v[3] < '0' || v[3] > '9' {
		return ferr(f, s, "format", "l'IBAN deve iniziare con il codice paese e 2 cifre di controllo e contenere solo lettere e cifre",
			"IBAN must start with a country code and 2 check digits and contain only letters and digits")
	}
	if n, ok := ibanLengths[v[:2]]; ok && len(v) != n {
		return ferr(f, s, "length", fmt.Sprintf("un IBAN %s deve avere %d caratteri, ne ha %d", v[:2], n, len(v)),
			fmt.Sprintf("a %s IBAN must have %d characters, got %d", v[:2], n, len(v)))
	}
	if v[:2] == "IT" {
		if v[4] < 'A' || v[4] > 'Z' {
			return ferr(f, s, "structure", "il quinto carattere di un IBAN italiano (CIN) deve essere una lettera",
				"the 5th character of an Italian IBAN (CIN) must be a letter")
		}
		for i := 5; i < 15; i++ {
			if v[i] < '0' || v[i] > '9' {
				return ferr(f, s, "structure", "ABI e CAB di un IBAN italiano (caratteri 6–15) devono essere cifre",
					"ABI and CAB of an Italian IBAN (characters 6–15) must be digits")
			}
		}
	}
	if ibanMod97(v) != 1 {
		return ferr(f, s, "checksum", "le cifre di controllo dell'IBAN non corrispondono: verificare la trascrizione",
			"IBAN check digits do not match: check for typos")
	}
	if v[:2] == "IT" && checkChar(v[5:]) != v[4] {
		return ferr(f, s, "cin", "il CIN dell'IBAN non corrisponde a ABI, CAB e conto: verificare la trascrizione",
			"the IBAN CIN does not match ABI, CAB and account: check for typos")
	}
	return nil
}

// AmountFormat says how ParseAmount reads decimal separators.
type AmountFormat int

const (
	// AmountAuto accepts 1.234,56, 1234,56, 1234.56 and 1,234.56 and rejects ambiguous
	// values such as 1.234 (thousands or three decimals?).
	AmountAuto AmountFormat = iota
	// AmountDecimalComma reads "," as decimal separator and "." as thousands separator.
	AmountDecimalComma
	// AmountDecimalPoint reads "." as decimal separator and "," as thousands separator.
	AmountDecimalPoint
)

// MaxAmountCents is the largest amount accepted: 99,999,999.99 euro, the largest a GPD
// debt position and an App IO payment message carry (pagoPA's 10-digit amounts in cents).
const MaxAmountCents = 9_999_999_999

const maxAmountText = "99.999.999,99"

// formatEuro writes cents as euro with a dot and two decimals (1234.50).
func formatEuro(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

// ParseAmountCents parses a positive euro amount in Italian (1.234,56 or 1234,56) or dot
// (1234.56) notation into cents, with at most 2 decimals and at most MaxAmountCents.
func ParseAmountCents(s string) (int64, error) {
	return ParseAmount(s, AmountAuto)
}

// ParseAmount is ParseAmountCents with an explicit decimal separator.
func ParseAmount(s string, format AmountFormat) (int64, error) {
	const f = "amount"
	v := strings.TrimSpace(s)
	v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSuffix(v, "€"), "€"))
	if v == "" {
		return 0, ferr(f, s, "required", "importo mancante", "amount is missing")
	}
	if v[0] == '-' {
		return 0, ferr(f, s, "positive", "l'importo deve essere positivo", "amount must be positive")
	}
	if v[0] == '+' {
		v = v[1:]
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= '0' && c <= '9' || c == '.' || c == ',') {
			return 0, ferr(f, s, "format", "l'importo contiene caratteri non ammessi (usare ad es. 1.234,56)",
				"amount contains characters other than digits and separators (use e.g. 1.234,56)")
		}
	}
	lastDot, lastComma := strings.LastIndexByte(v, '.'), strings.LastIndexByte(v, ',')
	var dec, thou byte
	switch format {
	case AmountDecimalComma:
		dec, thou = ',', '.'
	case AmountDecimalPoint:
		dec, thou = '.', ','
	default:
		switch {
		case lastDot >= 0 && lastComma >= 0:
			if lastComma > lastDot {
				dec, thou = ',', '.'
			} else {
				dec, thou = '.', ','
			}
		case lastComma >= 0:
			if strings.Count(v, ",") > 1 {
				dec, thou = '.', ','
			} else {
				dec, thou = ',', '.'
			}
		case lastDot >= 0:
			if strings.Count(v, ".") > 1 {
				dec, thou = ',', '.'
			} else if len(v)-lastDot-1 == 3 {
				return 0, ferr(f, s, "ambiguous", "importo ambiguo: il punto può indicare le migliaia o i decimali; impostare decimalComma nella configurazione",
					"ambiguous amount: the dot may be a thousands or a decimal separator; set decimalComma in the source config")
			} else {
				dec, thou = '.', ','
			}
		default:
			dec, thou = ',', '.'
		}
	}
	intPart, fracPart := v, ""
	if i := strings.IndexByte(v, dec); i >= 0 {
		intPart, fracPart = v[:i], v[i+1:]
		if strings.IndexByte(fracPart, dec) >= 0 || strings.IndexByte(fracPart, thou) >= 0 {
			return 0, ferr(f, s, "format", "separatori dell'importo non validi", "amount separators are not valid")
		}
		if fracPart == "" {
			return 0, ferr(f, s, "format", "mancano i decimali dopo il separatore", "decimals missing after the separator")
		}
	}
	if len(fracPart) > 2 {
		return 0, ferr(f, s, "decimals", "l'importo può avere al massimo 2 decimali", "amount can have at most 2 decimals")
	}
	if strings.IndexByte(intPart, thou) >= 0 {
		groups := strings.Split(intPart, string(thou))
		if len(groups[0]) < 1 || len(groups[0]) > 3 {
			return 0, ferr(f, s, "format", "separatore delle migliaia in posizione errata", "thousands separator in the wrong place")
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				return 0, ferr(f, s, "format", "separatore delle migliaia in posizione errata", "thousands separator in the wrong place")
			}
		}
		intPart = strings.Join(groups, "")
	}
	if intPart == "" {
		intPart = "0"
	}
	intPart = strings.TrimLeft(intPart, "0")
	if len(intPart) > 9 {
		return 0, ferr(f, s, "maximum", "l'importo supera 99.999.999,99 euro, il massimo di pagoPA e App IO", "amount exceeds 99,999,999.99 euro, the pagoPA and App IO maximum")
	}
	var cents int64
	for i := 0; i < len(intPart); i++ {
		cents = cents*10 + int64(intPart[i]-'0')
	}
	fracPart += strings.Repeat("0", 2-len(fracPart))
	cents = cents*100 + int64(fracPart[0]-'0')*10 + int64(fracPart[1]-'0')
	if cents == 0 {
		return 0, ferr(f, s, "positive", "l'importo deve essere maggiore di zero", "amount must be greater than zero")
	}
	if cents > MaxAmountCents {
		return 0, ferr(f, s, "maximum", "l'importo supera 99.999.999,99 euro, il massimo di pagoPA e App IO", "amount exceeds 99,999,999.99 euro, the pagoPA and App IO maximum")
	}
	return cents, nil
}

// Date formats understood by ParseDate.
const (
	DateDMY = "dd/mm/yyyy" // Italian day/month/year; 1-digit day and month accepted
	DateISO = "iso"        // yyyy-mm-dd
)

// ParseDate parses a calendar date in the given format (see CompileDateLayout;
// DateDMY when empty) and returns it as YYYY-MM-DD. Years outside 2000–2099 are
// rejected: these are due dates.
func ParseDate(s, format string) (string, error) {
	l, err := CompileDateLayout(format)
	if err != nil {
		return "", ferr("dueDate", s, "format", "formato data non supportato: "+format, "unsupported date format: "+format)
	}
	return l.Parse(s)
}

// splitDate splits v on sep into three numeric parts; yi, mi, di give the positions of
// year (4 digits), month and day (1–2 digits).
func splitDate(v string, sep byte, yi, mi, di int) (y, m, d int, ok bool) {
	parts := strings.Split(v, string(sep))
	if len(parts) != 3 {
		return 0, 0, 0, false
	}
	for i, p := range parts {
		want := 2
		if i == yi {
			want = 4
		}
		if len(p) == 0 || len(p) > want || i == yi && len(p) != 4 {
			return 0, 0, 0, false
		}
		for j := 0; j < len(p); j++ {
			if p[j] < '0' || p[j] > '9' {
				return 0, 0, 0, false
			}
		}
	}
	y, _ = strconv.Atoi(parts[yi])
	m, _ = strconv.Atoi(parts[mi])
	d, _ = strconv.Atoi(parts[di])
	return y, m, d, true
}

// ValidateEmail checks an optional e-mail address: empty is allowed; otherwise a bare
// address (no display name) with a dotted domain, at most 254 characters.
func ValidateEmail(s string) error {
	const f = "email"
	v := strings.TrimSpace(s)
	if v == "" {
		return nil
	}
	bad := ferr(f, s, "email", "indirizzo e-mail non valido", "e-mail address is not valid")
	if len(v) > 254 {
		return bad
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" {
		return bad
	}
	at := strings.LastIndexByte(v, '@')
	dom := v[at+1:]
	if at < 1 || !strings.Contains(dom, ".") || strings.HasPrefix(dom, ".") || strings.HasSuffix(dom, ".") || strings.ContainsAny(v, "[]") {
		return bad
	}
	return nil
}

// ValidateCAP checks an Italian postal code (CAP): exactly 5 digits, not 00000.
func ValidateCAP(s string) error {
	const f = "cap"
	v := strings.TrimSpace(s)
	if len(v) != 5 || v == "00000" {
		return ferr(f, s, "format", "il CAP deve avere 5 cifre", "CAP must have 5 digits")
	}
	for i := 0; i < 5; i++ {
		if v[i] < '0' || v[i] > '9' {
			return ferr(f, s, "format", "il CAP deve avere 5 cifre", "CAP must have 5 digits")
		}
	}
	return nil
}
