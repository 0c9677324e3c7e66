package pagopa

import (
	"fmt"
	"strconv"
	"strings"
)

// Rules reported by NAVError.Rule.
const (
	RuleLength = "length"      // the input is not 18 digits long
	RuleDigit  = "digit"       // a character is not a decimal digit
	RuleAux    = "aux"         // the aux digit is not 0, 1, 2 or 3
	RuleCheck  = "check-digit" // the mod-93 check digits do not match
)

// NAVError reports why a notice number (NAV), IUV or one of their parts is not valid.
// Pos is the 0-based index in Input of the offending character, or -1 when the
// error is about the whole input (for example its length).
type NAVError struct {
	Input string
	Pos   int
	Rule  string
	// Msg adds detail to Rule, e.g. the expected check digits.
	Msg string
}

func (e *NAVError) Error() string {
	in := e.Input
	if len(in) > 40 {
		in = in[:40] + "…"
	}
	s := fmt.Sprintf("pagopa: invalid notice number %q: %s", in, e.Rule)
	if e.Pos >= 0 {
		s += fmt.Sprintf(" at position %d", e.Pos)
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	return s
}

// NAV is a parsed 18-digit notice number (Numero Avviso) as printed on the pagoPA notice.
//
// Layout by aux digit:
//
//	0: 0 + application code(2) + base(13) + check(2)   IUV = base+check (15)
//	1: 1 + base(17)                                     IUV = base (17), no check digits
//	2: 2 + base(15) + check(2)                          IUV = base+check (17)
//	3: 3 + segregation code(2) + base(13) + check(2)    IUV = code+base+check (17)
type NAV struct {
	Aux   int
	Code  string // segregation code (aux 3) or application code (aux 0); empty otherwise
	Base  string
	Check string // two check digits; empty for aux 1
	IUV   string
	Value string // the 18 digits
}

// Grouped returns the NAV in 4-digit groups, as on the printed notice
// (e.g. "3010 0000 0000 0001 44").
func (n NAV) Grouped() string {
	var b strings.Builder
	for i := 0; i < len(n.Value); i++ {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteByte(n.Value[i])
	}
	return b.String()
}

// String returns the 18-digit value.
func (n NAV) String() string { return n.Value }

func checkAllDigits(input, s string, offset int) error {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return &NAVError{Input: input, Pos: offset + i, Rule: RuleDigit}
		}
	}
	return nil
}

// CheckDigits returns the two check digits of a notice number: the number formed
// by concatenating the aux digit, code (segregation or application code, may be
// empty) and base, modulo 93, written as 2 digits.
func CheckDigits(aux int, code, base string) (string, error) {
	if aux < 0 || aux > 9 {
		return "", &NAVError{Input: strconv.Itoa(aux), Pos: 0, Rule: RuleAux}
	}
	s := strconv.Itoa(aux) + code + base
	if len(s) > 40 {
		return "", &NAVError{Input: s, Pos: -1, Rule: RuleLength, Msg: "too long"}
	}
	if err := checkAllDigits(s, s, 0); err != nil {
		return "", err
	}
	return fmt.Sprintf("%02d", mod93(s)), nil
}

func mod93(digits string) int {
	r := 0
	for i := 0; i < len(digits); i++ {
		r = (r*10 + int(digits[i]-'0')) % 93
	}
	return r
}

// NewIUV builds a 17-digit IUV for aux digit 3 from a 2-digit segregation code
// and a 13-digit base: segregationCode + base13 + check digits.
func NewIUV(segregationCode, base13 string) (string, error) {
	if len(segregationCode) != 2 {
		return "", &NAVError{Input: segregationCode, Pos: -1, Rule: RuleLength, Msg: "segregation code must be 2 digits"}
	}
	if err := checkAllDigits(segregationCode, segregationCode, 0); err != nil {
		return "", err
	}
	if len(base13) != 13 {
		return "", &NAVError{Input: base13, Pos: -1, Rule: RuleLength, Msg: "IUV base must be 13 digits"}
	}
	if err := checkAllDigits(base13, base13, 0); err != nil {
		return "", err
	}
	check, _ := CheckDigits(3, segregationCode, base13)
	return segregationCode + base13 + check, nil
}

// NAVFromIUV builds the 18-digit NAV from an IUV. appCode is used only with aux 0
// (2-digit application code); for aux 3 the segregation code is already the
// first two digits of the IUV. The result is verified with ParseNAV.
func NAVFromIUV(aux int, appCode, iuv string) (string, error) {
	var s string
	switch aux {
	case 0:
		if len(appCode) != 2 {
			return "", &NAVError{Input: appCode, Pos: -1, Rule: RuleLength, Msg: "application code must be 2 digits for aux 0"}
		}
		if len(iuv) != 15 {
			return "", &NAVError{Input: iuv, Pos: -1, Rule: RuleLength, Msg: "IUV must be 15 digits for aux 0"}
		}
		s = "0" + appCode + iuv
	case 1, 2, 3:
		if appCode != "" && aux != 3 {
			return "", &NAVError{Input: appCode, Pos: -1, Rule: RuleLength, Msg: fmt.Sprintf("no application code with aux %d", aux)}
		}
		if aux == 3 && appCode != "" && !strings.HasPrefix(iuv, appCode) {
			return "", &NAVError{Input: iuv, Pos: 0, Rule: RuleCheck, Msg: fmt.Sprintf("IUV does not start with segregation code %s", appCode)}
		}
		if len(iuv) != 17 {
			return "", &NAVError{Input: iuv, Pos: -1, Rule: RuleLength, Msg: fmt.Sprintf("IUV must be 17 digits for aux %d", aux)}
		}
		s = strconv.Itoa(aux) + iuv
	default:
		return "", &NAVError{Input: strconv.Itoa(aux), Pos: 0, Rule: RuleAux}
	}
	n, err := ParseNAV(s)
	if err != nil {
		return "", err
	}
	return n.Value, nil
}

// ParseNAV parses and validates an 18-digit notice number. Spaces (as in the
// grouped printed form) are ignored; error positions refer to the original input.
// It checks length, digits, the aux digit and the check digits (aux 0, 2, 3).
func ParseNAV(s string) (NAV, error) {
	if len(s) > 64 {
		return NAV{}, &NAVError{Input: s, Pos: -1, Rule: RuleLength, Msg: fmt.Sprintf("%d characters, want 18 digits", len(s))}
	}
	var buf [64]byte
	digits := buf[:0]
	var origPos [64]int
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == ' ' {
			continue
		}
		if c < '0' || c > '9' {
			return NAV{}, &NAVError{Input: s, Pos: i, Rule: RuleDigit}
		}
		origPos[len(digits)] = i
		digits = append(digits, c)
	}
	if len(digits) != 18 {
		return NAV{}, &NAVError{Input: s, Pos: -1, Rule: RuleLength, Msg: fmt.Sprintf("%d digits, want 18", len(digits))}
	}
	v := string(digits)
	n := NAV{Aux: int(v[0] - '0'), Value: v}
	var checked string // digits covered by the check
	switch n.Aux {
	case 0:
		n.Code, n.Base, n.Check = v[1:3], v[3:16], v[16:18]
		n.IUV = v[3:18]
		checked = v[:16]
	case 1:
		n.Base, n.IUV = v[1:18], v[1:18]
		return n, nil
	case 2:
		n.Base, n.Check = v[1:16], v[16:18]
		n.IUV = v[1:18]
		checked = v[:16]
	case 3:
		n.Code, n.Base, n.Check = v[1:3], v[3:16], v[16:18]
		n.IUV = v[1:18]
		checked = v[:16]
	default:
		return NAV{}, &NAVError{Input: s, Pos: origPos[0], Rule: RuleAux, Msg: fmt.Sprintf("aux digit %d, want 0..3", n.Aux)}
	}
	if want := fmt.Sprintf("%02d", mod93(checked)); want != n.Check {
		return NAV{}, &NAVError{Input: s, Pos: origPos[16], Rule: RuleCheck, Msg: fmt.Sprintf("got %s, want %s", n.Check, want)}
	}
	return n, nil
}

// QRPayload returns the pagoPA notice QR code payload
// "PAGOPA|002|<NAV 18>|<EC fiscal code 11>|<amount in cents>". The NAV and
// fiscal code are left-padded with zeros as the official generator does; the
// amount is not padded.
func QRPayload(nav, ecFiscalCode string, amountCents int64) string {
	return "PAGOPA|002|" + leftPad(nav, 18) + "|" + leftPad(ecFiscalCode, 11) + "|" + strconv.FormatInt(amountCents, 10)
}

func leftPad(s string, n int) string {
	if len(s) >= n {
		return s
	}
	return strings.Repeat("0", n-len(s)) + s
}
