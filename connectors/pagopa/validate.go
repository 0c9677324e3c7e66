package pagopa

import (
	"fmt"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"
)

// ValidationError is one broken rule. Path is the JSON path of the field, e.g.
// "paymentOption[0].transfer[1].iban".
type ValidationError struct {
	Path string
	Rule string
}

func (e *ValidationError) Error() string { return e.Path + ": " + e.Rule }

// ValidationErrors lists every broken rule of a position. errors.As finds the
// first *ValidationError.
type ValidationErrors []*ValidationError

func (es ValidationErrors) Error() string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.Error()
	}
	return "invalid payment position: " + strings.Join(parts, "; ")
}

// Unwrap exposes the single errors to errors.Is and errors.As.
func (es ValidationErrors) Unwrap() []error {
	out := make([]error, len(es))
	for i, e := range es {
		out[i] = e
	}
	return out
}

var (
	reIBAN      = regexp.MustCompile(`^[A-Za-z0-9]{1,35}$`)
	reTwoUpper  = regexp.MustCompile(`^[A-Z]{2}$`)
	validIDs    = map[string]bool{"1": true, "2": true, "3": true, "4": true, "5": true}
	maxText     = 140
	maxMetadata = 10
)

// Validate checks the position against the GPD rules before it is sent, with
// the current time as "now". See ValidateAt.
func (p PaymentPosition) Validate() error { return p.ValidateAt(time.Now()) }

// ValidateAt checks the GPD create/update rules: required debtor data, at least
// one option, amount > 0, at most 5 transfers with ids "1".."5" summing to the
// option amount, IBAN xor stamp, text lengths ≤ 140, metadata ≤ 10 with unique
// keys, validityDate after now, dueDate ≥ validityDate (or now), retentionDate ≥
// dueDate. It returns ValidationErrors or nil.
func (p PaymentPosition) ValidateAt(now time.Time) error {
	var es ValidationErrors
	add := func(path, format string, args ...any) {
		es = append(es, &ValidationError{Path: path, Rule: fmt.Sprintf(format, args...)})
	}
	required := func(path, v string) {
		if strings.TrimSpace(v) == "" {
			add(path, "is required")
		}
	}
	maxLen := func(path, v string, n int) {
		if c := utf8.RuneCountInString(v); c > n {
			add(path, "is %d characters long, at most %d allowed", c, n)
		}
	}
	required("iupd", p.IUPD)
	if p.Type != TypePerson && p.Type != TypeLegal {
		add("type", "must be %q or %q, got %q", TypePerson, TypeLegal, p.Type)
	}
	required("fiscalCode", p.FiscalCode)
	required("fullName", p.FullName)
	required("companyName", p.CompanyName)
	maxLen("companyName", p.CompanyName, maxText)
	maxLen("officeName", p.OfficeName, maxText)
	if p.Country != "" && !reTwoUpper.MatchString(p.Country) {
		add("country", "must be 2 upper-case letters, got %q", p.Country)
	}
	if p.ValidityDate != nil && !p.ValidityDate.After(now) {
		add("validityDate", "must be in the future (%s), got %s", now.Format(time.RFC3339), p.ValidityDate.Format(time.RFC3339))
	}
	if len(p.PaymentOption) == 0 {
		add("paymentOption", "at least one payment option is required")
	}
	seenIUV := map[string]int{}
	for i, o := range p.PaymentOption {
		op := fmt.Sprintf("paymentOption[%d]", i)
		required(op+".iuv", o.IUV)
		if j, dup := seenIUV[o.IUV]; dup && o.IUV != "" {
			add(op+".iuv", "duplicates paymentOption[%d].iuv %q", j, o.IUV)
		}
		seenIUV[o.IUV] = i
		if o.Amount <= 0 {
			add(op+".amount", "must be > 0, got %d", o.Amount)
		}
		required(op+".description", o.Description)
		maxLen(op+".description", o.Description, maxText)
		if o.DueDate.IsZero() {
			add(op+".dueDate", "is required")
		} else {
			floor, what := now, "now"
			if p.ValidityDate != nil {
				floor, what = *p.ValidityDate, "validityDate"
			}
			if o.DueDate.Before(floor) {
				add(op+".dueDate", "must not be before %s (%s), got %s", what, floor.Format(time.RFC3339), o.DueDate.Format(time.RFC3339))
			}
			if o.RetentionDate != nil && o.RetentionDate.Before(o.DueDate) {
				add(op+".retentionDate", "must not be before dueDate (%s), got %s", o.DueDate.Format(time.RFC3339), o.RetentionDate.Format(time.RFC3339))
			}
		}
		validateMetadata(op+".paymentOptionMetadata", o.PaymentOptionMetadata, add)
		switch n := len(o.Transfer); {
		case n == 0:
			add(op+".transfer", "at least one transfer is required")
		case n > 5:
			add(op+".transfer", "has %d transfers, at most 5 allowed", n)
		}
		var sum int64
		seenID := map[string]int{}
		for j, t := range o.Transfer {
			tp := fmt.Sprintf("%s.transfer[%d]", op, j)
			if !validIDs[t.IDTransfer] {
				add(tp+".idTransfer", "must be one of \"1\"..\"5\", got %q", t.IDTransfer)
			} else if k, dup := seenID[t.IDTransfer]; dup {
				add(tp+".idTransfer", "duplicates %s.transfer[%d].idTransfer %q", op, k, t.IDTransfer)
			}
			seenID[t.IDTransfer] = j
			if t.Amount <= 0 {
				add(tp+".amount", "must be > 0, got %d", t.Amount)
			}
			sum += t.Amount
			required(tp+".remittanceInformation", t.RemittanceInformation)
			maxLen(tp+".remittanceInformation", t.RemittanceInformation, maxText)
			required(tp+".category", t.Category)
			maxLen(tp+".companyName", t.CompanyName, maxText)
			switch {
			case t.IBAN != "" && t.Stamp != nil:
				add(tp+".iban", "iban and stamp are mutually exclusive")
			case t.IBAN == "" && t.Stamp == nil:
				add(tp+".iban", "either iban or stamp is required")
			case t.IBAN != "" && !reIBAN.MatchString(t.IBAN):
				add(tp+".iban", "must be 1..35 letters or digits, got %q", t.IBAN)
			}
			if t.PostalIBAN != "" {
				if t.Stamp != nil {
					add(tp+".postalIban", "postalIban cannot be combined with stamp")
				} else if !reIBAN.MatchString(t.PostalIBAN) {
					add(tp+".postalIban", "must be 1..35 letters or digits, got %q", t.PostalIBAN)
				}
			}
			if s := t.Stamp; s != nil {
				required(tp+".stamp.hashDocument", s.HashDocument)
				maxLen(tp+".stamp.hashDocument", s.HashDocument, 72)
				if utf8.RuneCountInString(s.StampType) != 2 {
					add(tp+".stamp.stampType", "must be 2 characters, got %q", s.StampType)
				}
				if !reTwoUpper.MatchString(s.ProvincialResidence) {
					add(tp+".stamp.provincialResidence", "must be 2 upper-case letters, got %q", s.ProvincialResidence)
				}
			}
			validateMetadata(tp+".transferMetadata", t.TransferMetadata, add)
		}
		if len(o.Transfer) > 0 && sum != o.Amount {
			add(op+".transfer", "transfer amounts sum to %d, option amount is %d", sum, o.Amount)
		}
	}
	if len(es) == 0 {
		return nil
	}
	return es
}

func validateMetadata(path string, md []Metadata, add func(string, string, ...any)) {
	if len(md) > maxMetadata {
		add(path, "has %d entries, at most %d allowed", len(md), maxMetadata)
	}
	seen := map[string]int{}
	for i, m := range md {
		mp := fmt.Sprintf("%s[%d]", path, i)
		if j, dup := seen[m.Key]; dup {
			add(mp+".key", "duplicates %s[%d].key %q", path, j, m.Key)
		}
		seen[m.Key] = i
		if utf8.RuneCountInString(m.Key) > maxText {
			add(mp+".key", "is longer than %d characters", maxText)
		}
		if utf8.RuneCountInString(m.Value) > maxText {
			add(mp+".value", "is longer than %d characters", maxText)
		}
	}
}
