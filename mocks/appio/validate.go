package appiomock

import (
	"fmt"
	"unicode/utf16"
)

// timestampLayout is how timestamps are written (the spec's example format).
const timestampLayout = "2006-01-02T15:04:05.000Z"

// wireNewMessage is NewMessage as received; pointers tell absent from zero.
// The contract has already checked its shape when it reaches the mock.
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

// utf16Len is a string's length as JavaScript counts it (String.length):
// in UTF-16 code units, so a character outside the BMP (an emoji) counts 2.
func utf16Len(s string) int { return len(utf16.Encode([]rune(s))) }

// rules applies what App IO requires of a submit beyond the JSON schema
// the contract's converted Swagger checks, and returns the JSON path and
// rule of the first violation, or "" if the message is fine. bodyFC is
// true for POST /messages, where the fiscal code comes in the body.
func (m *wireNewMessage) rules(bodyFC bool) (field, rule string) {
	// NewMessage makes fiscal_code optional because submitMessageforUser
	// takes it from the path; submitMessageforUserWithFiscalCodeInBody
	// (POST /messages, io-services-v4.yaml l.105) has no other source.
	if bodyFC && m.FiscalCode == nil {
		return "fiscal_code", "required"
	}
	// FeatureLevelType (l.1842) is an x-extensible-enum, which JSON
	// schema ignores; the service decodes it with its io-ts enum.
	if f := m.FeatureLevelType; f != nil && *f != "STANDARD" && *f != "ADVANCED" {
		return "feature_level_type", "must be STANDARD or ADVANCED"
	}
	if c := m.Content; c != nil {
		// App IO is stricter than its schema: io-functions-services checks
		// minLength/maxLength with io-ts WithinRangeString
		// (@pagopa/ts-commons), i.e. JavaScript's String.length in UTF-16
		// code units, where JSON schema counts characters. An emoji is 2.
		for _, t := range []struct {
			field  string
			v      *string
			lo, hi int
		}{{"content.subject", c.Subject, 10, 120}, {"content.markdown", c.Markdown, 80, 10000}} {
			if t.v != nil {
				if n := utf16Len(*t.v); n < t.lo || n > t.hi {
					return t.field, fmt.Sprintf("length must be %d..%d UTF-16 code units, got %d", t.lo, t.hi, n)
				}
			}
		}
		// On submit the payee is required (PaymentDataWithRequiredPayee,
		// l.2139, and the specs' key facts), though NewMessage's content
		// refers to MessageContent, whose PaymentData leaves it optional.
		if p := c.PaymentData; p != nil {
			if p.Payee == nil {
				return "content.payment_data.payee", "required"
			}
			if p.Payee.FiscalCode == nil {
				return "content.payment_data.payee.fiscal_code", "required"
			}
		}
	}
	return "", ""
}
