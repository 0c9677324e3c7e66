package appio

import (
	"encoding/json"
	"time"
)

// Message processing statuses (MessageStatusValue in the spec).
const (
	StatusAccepted  = "ACCEPTED"
	StatusThrottled = "THROTTLED"
	StatusFailed    = "FAILED"
	StatusProcessed = "PROCESSED"
	StatusRejected  = "REJECTED"
)

// Per-channel notification statuses (NotificationChannelStatusValue in the spec).
const (
	NotificationSent      = "SENT"
	NotificationThrottled = "THROTTLED"
	NotificationExpired   = "EXPIRED"
	NotificationFailed    = "FAILED"
)

// Feature level types (FeatureLevelType in the spec). Empty means STANDARD.
const (
	FeatureStandard = "STANDARD"
	FeatureAdvanced = "ADVANCED"
)

// Profile is the part of a citizen's IO profile a service may see
// (LimitedProfile in the spec).
type Profile struct {
	// SenderAllowed is false when the citizen opted out of the calling
	// service: nothing may be sent then.
	SenderAllowed bool `json:"sender_allowed"`
	// PreferredLanguages are like "it_IT", "en_GB", in order of preference.
	PreferredLanguages []string `json:"preferred_languages,omitempty"`
}

// NewMessage is the body of POST /messages (NewMessage in the spec).
type NewMessage struct {
	// FiscalCode of the recipient; required by POST /messages.
	FiscalCode string `json:"fiscal_code,omitempty"`
	// TimeToLive in seconds, 3600..604800; zero lets the server default (3600).
	TimeToLive int `json:"time_to_live,omitempty"`
	// FeatureLevelType is STANDARD or ADVANCED; empty means STANDARD.
	FeatureLevelType string         `json:"feature_level_type,omitempty"`
	Content          MessageContent `json:"content"`
}

// MessageContent is the content of a message (MessageContent in the spec).
type MessageContent struct {
	// Subject is 10..120 characters.
	Subject string `json:"subject"`
	// Markdown is the body, 80..10000 characters.
	Markdown string `json:"markdown"`
	// DueDate is sent as an ISO-8601 UTC timestamp with milliseconds.
	DueDate *time.Time `json:"due_date,omitempty"`
	// PaymentData makes the message a pagoPA payment request.
	PaymentData *PaymentData `json:"payment_data,omitempty"`
	// RequireSecureChannels, when true, suppresses email notifications.
	RequireSecureChannels bool `json:"require_secure_channels,omitempty"`
}

// TimestampLayout is how timestamps are written on the wire
// (the spec's example is "2018-10-13T00:00:00.000Z").
const TimestampLayout = "2006-01-02T15:04:05.000Z"

// MarshalJSON writes DueDate in UTC with the layout the spec shows.
func (c MessageContent) MarshalJSON() ([]byte, error) {
	type plain MessageContent
	w := struct {
		plain
		DueDate *string `json:"due_date,omitempty"`
	}{plain: plain(c)}
	if c.DueDate != nil {
		s := c.DueDate.UTC().Format(TimestampLayout)
		w.DueDate = &s
	}
	return json.Marshal(w)
}

// PaymentData holds the pagoPA notice a message asks to pay
// (PaymentDataWithRequiredPayee in the spec).
type PaymentData struct {
	// Amount in euro cents, 1..9999999999.
	Amount int64 `json:"amount"`
	// NoticeNumber is the 18-digit NAV, pattern ^[0123][0-9]{17}$.
	NoticeNumber string `json:"notice_number"`
	// InvalidAfterDueDate makes the notice unpayable after the due date.
	InvalidAfterDueDate bool `json:"invalid_after_due_date"`
	// Payee is the creditor organization; required on submit.
	Payee *Payee `json:"payee,omitempty"`
}

// Payee identifies the creditor organization of a payment.
type Payee struct {
	// FiscalCode is the organization's 11-digit fiscal code.
	FiscalCode string `json:"fiscal_code"`
}

// NotificationStatus is the per-channel notification state of a message.
type NotificationStatus struct {
	Email   string `json:"email,omitempty"`
	Webhook string `json:"webhook,omitempty"`
}

// MessageStatus is what GET /messages/{fiscal_code}/{id} tells about a message
// (ExternalMessageResponseWithContent in the spec).
type MessageStatus struct {
	ID               string
	FiscalCode       string
	SenderServiceID  string
	CreatedAt        time.Time
	TimeToLive       int
	FeatureLevelType string
	// Status is one of the Status* constants.
	Status       string
	Notification NotificationStatus
	// ReadStatus and PaymentStatus are only given for ADVANCED messages.
	ReadStatus    string
	PaymentStatus string
	Content       *MessageContent
}

// Final reports whether the status can no longer change:
// PROCESSED, REJECTED or FAILED.
func (s *MessageStatus) Final() bool { return IsFinalStatus(s.Status) }

// IsFinalStatus reports whether a message status is terminal.
func IsFinalStatus(status string) bool {
	switch status {
	case StatusProcessed, StatusRejected, StatusFailed:
		return true
	}
	return false
}

// wireMessage is the JSON shape of ExternalMessageResponseWithContent.
type wireMessage struct {
	Message struct {
		ID               string          `json:"id"`
		FiscalCode       string          `json:"fiscal_code"`
		TimeToLive       int             `json:"time_to_live"`
		CreatedAt        time.Time       `json:"created_at"`
		Content          *MessageContent `json:"content"`
		SenderServiceID  string          `json:"sender_service_id"`
		FeatureLevelType string          `json:"feature_level_type"`
	} `json:"message"`
	Notification  *NotificationStatus `json:"notification"`
	Status        string              `json:"status"`
	ReadStatus    string              `json:"read_status"`
	PaymentStatus string              `json:"payment_status"`
}

func (w *wireMessage) status() *MessageStatus {
	s := &MessageStatus{
		ID:               w.Message.ID,
		FiscalCode:       w.Message.FiscalCode,
		SenderServiceID:  w.Message.SenderServiceID,
		CreatedAt:        w.Message.CreatedAt,
		TimeToLive:       w.Message.TimeToLive,
		FeatureLevelType: w.Message.FeatureLevelType,
		Status:           w.Status,
		ReadStatus:       w.ReadStatus,
		PaymentStatus:    w.PaymentStatus,
		Content:          w.Message.Content,
	}
	if w.Notification != nil {
		s.Notification = *w.Notification
	}
	return s
}
