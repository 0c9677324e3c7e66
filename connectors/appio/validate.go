package appio

import (
	"fmt"
	"regexp"
	"unicode/utf16"
	"unicode/utf8"
)

// Limits from the spec (io-services-v4.yaml).
const (
	SubjectMinLen  = 10         // MessageContentBase.subject minLength
	SubjectMaxLen  = 120        // MessageContentBase.subject maxLength
	MarkdownMinLen = 80         // MessageContentBase.markdown minLength
	MarkdownMaxLen = 10000      // MessageContentBase.markdown maxLength
	MinTimeToLive  = 3600       // TimeToLiveSeconds minimum
	MaxTimeToLive  = 604800     // TimeToLiveSeconds maximum
	MinAmount      = 1          // PaymentDataBase.amount minimum (cents)
	MaxAmount      = 9999999999 // PaymentDataBase.amount maximum (cents)
)

var (
	// fiscalCodeRE is the FiscalCode path parameter pattern of the spec
	// (also the FiscalCode format of @pagopa/ts-commons), anchored.
	fiscalCodeRE = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)
	// fiscalCodeInText finds fiscal codes inside other text (URLs).
	fiscalCodeInText = regexp.MustCompile(`[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]`)
	// orgFiscalCodeRE is the OrganizationFiscalCode format; the spec names the
	// format only, its pattern comes from @pagopa/ts-commons (11 digits).
	orgFiscalCodeRE = regexp.MustCompile(`^[0-9]{11}$`)
	// noticeNumberRE is PaymentDataBase.notice_number's pattern.
	noticeNumberRE = regexp.MustCompile(`^[0123][0-9]{17}$`)
)

// ValidFiscalCode reports whether s is a well-formed citizen fiscal code
// as the API accepts it (16 upper-case characters, omocodia allowed).
func ValidFiscalCode(s string) bool { return fiscalCodeRE.MatchString(s) }

// ValidationError says which field of a request breaks which rule of the spec.
type ValidationError struct {
	// Field is the JSON path of the field, e.g. "content.payment_data.notice_number".
	Field string
	// Rule is the broken rule in words, e.g. "length 10..120".
	Rule string
	// Value is the offending value, truncated.
	Value string
}

func (e *ValidationError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("appio: invalid %s: %s", e.Field, e.Rule)
	}
	return fmt.Sprintf("appio: invalid %s: %s (got %q)", e.Field, e.Rule, e.Value)
}

const maxValueLen = 32

func invalid(field, rule, value string) *ValidationError {
	if utf8.RuneCountInString(value) > maxValueLen {
		r := []rune(value)
		value = string(r[:maxValueLen]) + "…"
	}
	return &ValidationError{Field: field, Rule: rule, Value: value}
}

// ioLen is a string's length as App IO counts it: JavaScript's
// String.length, in UTF-16 code units (io-ts WithinRangeString), so a
// character outside the BMP, such as an emoji, counts 2.
func ioLen(s string) int { return len(utf16.Encode([]rune(s))) }

func checkLen(field, s string, lo, hi int) *ValidationError {
	if n := ioLen(s); n < lo || n > hi {
		return invalid(field, fmt.Sprintf("length must be %d..%d characters, is %d", lo, hi, n), s)
	}
	return nil
}

func checkFiscalCode(field, s string) *ValidationError {
	if s == "" {
		return invalid(field, "required", "")
	}
	if !fiscalCodeRE.MatchString(s) {
		return invalid(field, "must match the fiscal code pattern", s)
	}
	return nil
}

// Validate checks everything the spec constrains in a message sent with
// POST /messages, so bad input fails here instead of costing a request.
// It returns the first problem found as a *ValidationError.
func (m NewMessage) Validate() error {
	if err := checkFiscalCode("fiscal_code", m.FiscalCode); err != nil {
		return err
	}
	if m.TimeToLive != 0 && (m.TimeToLive < MinTimeToLive || m.TimeToLive > MaxTimeToLive) {
		return invalid("time_to_live", fmt.Sprintf("must be %d..%d seconds", MinTimeToLive, MaxTimeToLive), fmt.Sprint(m.TimeToLive))
	}
	switch m.FeatureLevelType {
	case "", FeatureStandard, FeatureAdvanced:
	default:
		return invalid("feature_level_type", "must be STANDARD or ADVANCED", m.FeatureLevelType)
	}
	return m.Content.validate("content")
}

func (c *MessageContent) validate(path string) error {
	if c.Subject == "" {
		return invalid(path+".subject", "required", "")
	}
	if err := checkLen(path+".subject", c.Subject, SubjectMinLen, SubjectMaxLen); err != nil {
		return err
	}
	if c.Markdown == "" {
		return invalid(path+".markdown", "required", "")
	}
	if err := checkLen(path+".markdown", c.Markdown, MarkdownMinLen, MarkdownMaxLen); err != nil {
		return err
	}
	if c.DueDate != nil {
		// The wire format is a four-digit-year UTC timestamp; the zero time is
		// almost certainly a bug on the caller's side.
		if c.DueDate.IsZero() {
			return invalid(path+".due_date", "must not be the zero time", "")
		}
		if y := c.DueDate.UTC().Year(); y < 1970 || y > 9999 {
			return invalid(path+".due_date", "year must be 1970..9999", c.DueDate.UTC().Format(TimestampLayout))
		}
	}
	if p := c.PaymentData; p != nil {
		pp := path + ".payment_data"
		if p.Amount < MinAmount || p.Amount > MaxAmount {
			return invalid(pp+".amount", fmt.Sprintf("must be %d..%d euro cents", MinAmount, int64(MaxAmount)), fmt.Sprint(p.Amount))
		}
		if p.NoticeNumber == "" {
			return invalid(pp+".notice_number", "required", "")
		}
		if !noticeNumberRE.MatchString(p.NoticeNumber) {
			return invalid(pp+".notice_number", "must match ^[0123][0-9]{17}$", p.NoticeNumber)
		}
		if p.Payee == nil {
			return invalid(pp+".payee", "required", "")
		}
		if p.Payee.FiscalCode == "" {
			return invalid(pp+".payee.fiscal_code", "required", "")
		}
		if !orgFiscalCodeRE.MatchString(p.Payee.FiscalCode) {
			return invalid(pp+".payee.fiscal_code", "must be 11 digits", p.Payee.FiscalCode)
		}
	}
	return nil
}
