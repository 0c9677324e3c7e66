// Package notice renders the pagoPA payment notice ("avviso di pagamento
// pagoPA") as a printable A4 PDF with the QR code that payment channels scan,
// one page per payment option, in Italian or English.
package notice

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ponte-pa/ponte/connectors/pagopa"
)

// Languages a notice can be printed in.
const (
	LangIT = "it"
	LangEN = "en"
)

// MaxAmountCents is the largest amount the QR payload can carry (11 digits).
const MaxAmountCents = 99_999_999_999

// Notice is everything printed on one payment notice.
type Notice struct {
	EC      EC       `json:"ec"`
	Debtor  Debtor   `json:"debtor"`
	Subject string   `json:"subject"` // oggetto del pagamento, ≤140 characters
	Options []Option `json:"options"` // one page each
	Lang    string   `json:"lang,omitempty"`
}

// EC is the creditor institution (ente creditore).
type EC struct {
	Name       string `json:"name"`
	FiscalCode string `json:"fiscalCode"`      // 11 digits
	CBILL      string `json:"cbill,omitempty"` // CBILL code, printed only when set
	Sector     string `json:"sector,omitempty"`
	Info       string `json:"info,omitempty"` // contacts: website, e-mail, phone
}

// Debtor is the person or company the notice is addressed to.
type Debtor struct {
	Name       string `json:"name"`
	FiscalCode string `json:"fiscalCode"`
	Address    string `json:"address,omitempty"`
}

// Option is one payment option: the single payment (Installment 0) or
// installment Installment of Of.
type Option struct {
	NAV         string `json:"nav"`
	AmountCents int64  `json:"amountCents"`
	DueDate     Date   `json:"dueDate"`
	Installment int    `json:"installment,omitempty"`
	Of          int    `json:"of,omitempty"`
}

// Date is a calendar date written as "YYYY-MM-DD" in JSON (RFC 3339
// date-times are accepted too).
type Date struct{ time.Time }

// NewDate returns the date y-m-d.
func NewDate(y int, m time.Month, d int) Date { return Date{time.Date(y, m, d, 0, 0, 0, 0, time.UTC)} }

// MarshalJSON writes the date as "YYYY-MM-DD".
func (d Date) MarshalJSON() ([]byte, error) {
	if d.IsZero() {
		return []byte(`""`), nil
	}
	return json.Marshal(d.Format("2006-01-02"))
}

// UnmarshalJSON reads "YYYY-MM-DD" or an RFC 3339 date-time.
func (d *Date) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("date: %w", err)
	}
	if s == "" {
		d.Time = time.Time{}
		return nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		d.Time = t
		return nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("date %q: want YYYY-MM-DD", s)
	}
	d.Time = t
	return nil
}

// ValidationError names the first field of a Notice that cannot be printed.
type ValidationError struct {
	Field string // e.g. "options[1].nav"
	Msg   string
	Err   error // underlying cause, e.g. a *pagopa.NAVError
}

func (e *ValidationError) Error() string { return "notice: " + e.Field + ": " + e.Msg }

// Unwrap returns the cause.
func (e *ValidationError) Unwrap() error { return e.Err }

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// Validate checks that n can be printed: names and fiscal codes present, the
// EC fiscal code of 11 digits, at least one option, valid notice numbers
// (distinct), amounts in 1..MaxAmountCents, due dates set, installments
// numbered 1..Of with one Of for all, and at most one single-payment option.
func (n Notice) Validate() error {
	bad := func(field, format string, a ...any) error {
		return &ValidationError{Field: field, Msg: fmt.Sprintf(format, a...)}
	}
	if strings.TrimSpace(n.EC.Name) == "" {
		return bad("ec.name", "required")
	}
	if len(n.EC.FiscalCode) != 11 || !allDigits(n.EC.FiscalCode) {
		return bad("ec.fiscalCode", "%q is not 11 digits", n.EC.FiscalCode)
	}
	if n.EC.CBILL != "" && (len(n.EC.CBILL) > 16 || strings.ContainsAny(n.EC.CBILL, " \t\n")) {
		return bad("ec.cbill", "%q is not a CBILL code", n.EC.CBILL)
	}
	if strings.TrimSpace(n.Debtor.Name) == "" {
		return bad("debtor.name", "required")
	}
	if fc := n.Debtor.FiscalCode; fc == "" || len(fc) > 16 {
		return bad("debtor.fiscalCode", "required, at most 16 characters")
	}
	if strings.TrimSpace(n.Subject) == "" || utf8.RuneCountInString(n.Subject) > 140 {
		return bad("subject", "required, at most 140 characters")
	}
	if n.Lang != "" && n.Lang != LangIT && n.Lang != LangEN {
		return bad("lang", "%q: want %q or %q", n.Lang, LangIT, LangEN)
	}
	if len(n.Options) == 0 {
		return bad("options", "at least one payment option is required")
	}
	seen := map[string]bool{}
	singles, of := 0, 0
	for i, o := range n.Options {
		f := fmt.Sprintf("options[%d]", i)
		nav, err := pagopa.ParseNAV(o.NAV)
		if err != nil {
			return &ValidationError{Field: f + ".nav", Msg: err.Error(), Err: err}
		}
		if seen[nav.Value] {
			return bad(f+".nav", "%s is used by another option", nav.Value)
		}
		seen[nav.Value] = true
		if o.AmountCents < 1 || o.AmountCents > MaxAmountCents {
			return bad(f+".amountCents", "%d is not in 1..%d", o.AmountCents, int64(MaxAmountCents))
		}
		if o.DueDate.IsZero() {
			return bad(f+".dueDate", "required")
		}
		switch {
		case o.Installment == 0 && o.Of == 0:
			singles++
			if singles > 1 {
				return bad(f, "only one single-payment option is allowed")
			}
		case o.Installment < 1 || o.Of < 2 || o.Installment > o.Of:
			return bad(f, "installment %d of %d: want 1 ≤ installment ≤ of, of ≥ 2", o.Installment, o.Of)
		case of != 0 && o.Of != of:
			return bad(f+".of", "%d differs from %d in another option", o.Of, of)
		default:
			of = o.Of
		}
	}
	return nil
}

// QRPayload is the QR code content for option i of n.
func (n Notice) QRPayload(i int) string {
	o := n.Options[i]
	nav, err := pagopa.ParseNAV(o.NAV)
	v := o.NAV
	if err == nil {
		v = nav.Value
	}
	return pagopa.QRPayload(v, n.EC.FiscalCode, o.AmountCents)
}
