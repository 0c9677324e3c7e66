package appiomock

import (
	"fmt"
	"regexp"
	"time"
	"unicode/utf8"
)

// timestampLayout is how timestamps are written (the spec's example format).
const timestampLayout = "2006-01-02T15:04:05.000Z"

var (
	// fiscalCodeRE is the spec's FiscalCode pattern, anchored.
	fiscalCodeRE = regexp.MustCompile(`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`)
	// orgFiscalCodeRE is the OrganizationFiscalCode format of
	// @pagopa/ts-commons, which the spec names without a pattern.
	orgFiscalCodeRE = regexp.MustCompile(`^[0-9]{11}$`)
	noticeNumberRE  = regexp.MustCompile(`^[0123][0-9]{17}$`)
)

// wireNewMessage is NewMessage as received; pointers tell absent from zero.
type wireNewMessage struct {
	FiscalCode       *string      `json:"fiscal_code"`
	TimeToLive       *int64       `json:"time_to_live"`
	FeatureLevelType *string      `json:"feature_level_type"`
	Content          *wireContent `json:"content"`
}

type wireContent struct {
	Subject               *string      `json:"subject"`
	Markdown              *string      `json:"markdown"`
	DueDate               *string      `json:"due_date"`
	RequireSecureChannels *bool        `json:"require_secure_channels"`
	PaymentData           *wirePayment `json:"payment_data"`
}

type wirePayment struct {
	Amount              *int64  `json:"amount"`
	NoticeNumber        *string `json:"notice_number"`
	InvalidAfterDueDate *bool   `json:"invalid_after_due_date"`
	Payee               *struct {
		FiscalCode *string `json:"fiscal_code"`
	} `json:"payee"`
}

func lenRule(s *string, lo, hi int) string {
	if n := utf8.RuneCountInString(*s); n < lo || n > hi {
		return fmt.Sprintf("length must be %d..%d characters", lo, hi)
	}
	return ""
}

// validate applies the spec's constraints to a submit for recipient fc and
// returns the JSON path and rule of the first violation, or "" if valid.
// payee is required as in PaymentDataWithRequiredPayee.
func (m *wireNewMessage) validate(fc string) (field, rule string) {
	if !fiscalCodeRE.MatchString(fc) {
		return "fiscal_code", "must match the fiscal code pattern"
	}
	if m.TimeToLive != nil && (*m.TimeToLive < 3600 || *m.TimeToLive > 604800) {
		return "time_to_live", "must be 3600..604800 seconds"
	}
	if f := m.FeatureLevelType; f != nil && *f != "STANDARD" && *f != "ADVANCED" {
		return "feature_level_type", "must be STANDARD or ADVANCED"
	}
	c := m.Content
	if c == nil {
		return "content", "required"
	}
	if c.Subject == nil {
		return "content.subject", "required"
	}
	if r := lenRule(c.Subject, 10, 120); r != "" {
		return "content.subject", r
	}
	if c.Markdown == nil {
		return "content.markdown", "required"
	}
	if r := lenRule(c.Markdown, 80, 10000); r != "" {
		return "content.markdown", r
	}
	if c.DueDate != nil {
		if _, err := time.Parse(time.RFC3339Nano, *c.DueDate); err != nil {
			return "content.due_date", "must be an ISO-8601 timestamp"
		}
	}
	if p := c.PaymentData; p != nil {
		if p.Amount == nil {
			return "content.payment_data.amount", "required"
		}
		if *p.Amount < 1 || *p.Amount > 9999999999 {
			return "content.payment_data.amount", "must be 1..9999999999 euro cents"
		}
		if p.NoticeNumber == nil {
			return "content.payment_data.notice_number", "required"
		}
		if !noticeNumberRE.MatchString(*p.NoticeNumber) {
			return "content.payment_data.notice_number", "must match ^[0123][0-9]{17}$"
		}
		if p.Payee == nil {
			return "content.payment_data.payee", "required"
		}
		if p.Payee.FiscalCode == nil {
			return "content.payment_data.payee.fiscal_code", "required"
		}
		if !orgFiscalCodeRE.MatchString(*p.Payee.FiscalCode) {
			return "content.payment_data.payee.fiscal_code", "must be 11 digits"
		}
	}
	return "", ""
}
