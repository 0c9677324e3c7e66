// Package notice renders the pagoPA payment notice ("avviso di pagamento
// pagoPA") as a printable A4 PDF laid out as the current pagoPA guide asks
// (docs.pagopa.it/avviso-pagamento, Allegato 2): the single payment and then
// the instalments two or three to a band, each with a vector QR code, and the
// Bollettino Postale PA with the Poste data matrix when the creditor has a
// postal account; in Italian or English.
//
// The guide is kept in pagopa/devportal-docs under
// docs/E9RM3F60OM97FbTVrCW8/ (commit 091db3efc29798e1064277876a1651ceb6a40023
// unless a comment says otherwise); comments name the page they follow.
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

// Field limits of the guide, in characters. A longer value is refused by
// Validate with the field's name: the guide sizes each box for them, so a
// longer one would overflow the layout. Callers that take data from
// elsewhere (a campaign's CSV) cut to these limits first (see Clip).
const (
	MaxSubject     = 90  // AVVISO.OGGETTO, struttura/specifiche-tecniche/intestazione.md
	MaxECName      = 50  // ENTE.NOME, informazioni-sullente-creditore.md
	MaxSector      = 50  // ENTE.SETTORE, same page
	MaxInfo        = 100 // ENTE.INFO, same page
	MaxDebtorName  = 70  // DESTINATARIO.NOMECOMPLETO, informazioni-sul-destinatario.md
	MaxAddress     = 140 // DESTINATARIO.INDIRIZZO, same page
	MaxPostalOwner = 50  // <intestatario_conto_corrente_postale>, dati-per-il-pagamento/bollettino-postale-pa.md
)

// Notice is everything printed on one payment notice.
type Notice struct {
	EC      EC       `json:"ec"`
	Debtor  Debtor   `json:"debtor"`
	Subject string   `json:"subject"` // oggetto del pagamento, ≤MaxSubject characters
	Options []Option `json:"options"` // the single payment and/or the instalments
	Lang    string   `json:"lang,omitempty"`
}

// EC is the creditor institution (ente creditore).
type EC struct {
	Name       string `json:"name"`
	FiscalCode string `json:"fiscalCode"`      // 11 digits
	CBILL      string `json:"cbill,omitempty"` // CBILL code (5 letters or digits); the field stays empty without it
	Sector     string `json:"sector,omitempty"`
	Info       string `json:"info,omitempty"` // contacts: website, e-mail, phone
	// Postal is the creditor's BancoPosta account. With it every payment
	// option also gets a Bollettino Postale PA with the Poste data matrix,
	// which the guide makes mandatory for a creditor with a postal account
	// (dati-per-il-pagamento/rata-unica.md, rate-multiple.md).
	Postal *Postal `json:"postal,omitempty"`
}

// Postal is a creditor's postal current account.
type Postal struct {
	Account string `json:"account"`         // c/c postale number, up to 12 digits
	Owner   string `json:"owner,omitempty"` // account holder (intestatario); the EC name when empty
	// Authorization is Poste's authorisation to print the bollettino
	// ("AUT. DB/xxxx/xxx xxxxx DEL xx/xx/xxxx"), printed under it when set.
	Authorization string `json:"authorization,omitempty"`
}

// Debtor is the person or company the notice is addressed to.
type Debtor struct {
	Name       string `json:"name"`
	FiscalCode string `json:"fiscalCode"`
	Address    string `json:"address,omitempty"`
}

// Clip cuts s to at most n characters, ending a cut text with "…", for a
// caller that prefers a shortened text to a refused notice.
func Clip(s string, n int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return strings.TrimSpace(string(r[:n-1])) + "…"
}

// PostalAccountFromIBAN is the postal account number in a BancoPosta IBAN
// (ABI 07601): the 12-character account of the Italian BBAN.
func PostalAccountFromIBAN(iban string) (string, error) {
	iban = strings.ReplaceAll(strings.ToUpper(iban), " ", "")
	if len(iban) != 27 || !strings.HasPrefix(iban, "IT") {
		return "", fmt.Errorf("%q is not an Italian IBAN", iban)
	}
	if iban[5:10] != "07601" {
		return "", fmt.Errorf("IBAN %s is not a BancoPosta account (ABI %s, not 07601)", iban, iban[5:10])
	}
	acc := iban[15:]
	if !allDigits(acc) {
		return "", fmt.Errorf("IBAN %s: postal account %q is not all digits", iban, acc)
	}
	return acc, nil
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
// EC fiscal code of 11 digits, texts within the guide's limits (Max*), a CBILL
// code and a postal account well formed when given, at least one option,
// valid notice numbers (distinct), amounts in 1..MaxAmountCents, due dates
// set, installments numbered 1..Of once each with one Of for all, and at most
// one single-payment option. The error names the field.
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
	if n.EC.CBILL != "" && !IsCBILL(n.EC.CBILL) {
		return bad("ec.cbill", "%q is not a CBILL code (5 capital letters or digits)", n.EC.CBILL)
	}
	long := func(field, v string, max int) error {
		if c := utf8.RuneCountInString(v); c > max {
			return bad(field, "%d characters, the notice has room for %d", c, max)
		}
		return nil
	}
	for _, f := range []struct {
		field, v string
		max      int
	}{
		{"ec.name", n.EC.Name, MaxECName}, {"ec.sector", n.EC.Sector, MaxSector}, {"ec.info", n.EC.Info, MaxInfo},
		{"debtor.name", n.Debtor.Name, MaxDebtorName}, {"debtor.address", n.Debtor.Address, MaxAddress},
		{"subject", n.Subject, MaxSubject},
	} {
		if err := long(f.field, f.v, f.max); err != nil {
			return err
		}
	}
	if p := n.EC.Postal; p != nil {
		if len(p.Account) == 0 || len(p.Account) > 12 || !allDigits(p.Account) {
			return bad("ec.postal.account", "%q is not a postal account number (1 to 12 digits)", p.Account)
		}
		if err := long("ec.postal.owner", p.Owner, MaxPostalOwner); err != nil {
			return err
		}
		if err := long("ec.postal.authorization", p.Authorization, 60); err != nil {
			return err
		}
	}
	if strings.TrimSpace(n.Debtor.Name) == "" {
		return bad("debtor.name", "required")
	}
	if fc := n.Debtor.FiscalCode; fc == "" || len(fc) > 16 {
		return bad("debtor.fiscalCode", "required, at most 16 characters")
	}
	if strings.TrimSpace(n.Subject) == "" {
		return bad("subject", "required")
	}
	if n.Lang != "" && n.Lang != LangIT && n.Lang != LangEN {
		return bad("lang", "%q: want %q or %q", n.Lang, LangIT, LangEN)
	}
	if len(n.Options) == 0 {
		return bad("options", "at least one payment option is required")
	}
	seen := map[string]bool{}
	inst := map[int]bool{}
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
		case inst[o.Installment]:
			return bad(f+".installment", "installment %d appears twice", o.Installment)
		default:
			of = o.Of
			inst[o.Installment] = true
		}
	}
	return nil
}

// IsCBILL reports whether s is a CBILL code: 5 capital letters or digits
// (the guide's ENTE.CBILL is written in capitals; the codes in CBILL's
// directory, like the guide's example A0EDT, have 5 characters).
func IsCBILL(s string) bool {
	if len(s) != 5 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
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
