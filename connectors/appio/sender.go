package appio

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
)

// KindAppIO is App IO's channel kind in the outbox.
const KindAppIO = "appio"

// Sender is App IO as a channel (channels.Sender): one service, through
// its subscription key. Messages go to citizens by fiscal code; a message
// with a Payment carries payment_data, so the citizen pays from the app.
type Sender struct {
	Client *Client
	// Key is the service's subscription key (never logged).
	Key string
	// FeatureLevel is STANDARD (default) or ADVANCED.
	FeatureLevel string
}

var (
	_ channels.Sender   = (*Sender)(nil)
	_ channels.Verifier = (*Sender)(nil)
)

// TestFiscalCode is App IO's test user: a service's key may look up its
// profile in every phase, so a lookup tells whether the key is accepted
// without touching a real citizen's data.
const TestFiscalCode = "AAAAAA00A00A000A"

// Verify implements channels.Verifier: a profile lookup of the test user.
// Any answer but a refused key (401, 403) means the key works; the
// profile itself does not matter.
func (s *Sender) Verify(ctx context.Context) error {
	_, err := s.Client.GetProfile(ctx, s.Key, TestFiscalCode)
	var ae *APIError
	if errors.As(err, &ae) && (ae.Status == http.StatusNotFound) {
		return nil
	}
	return err
}

// Outcomes of Precheck for citizens App IO cannot reach.
const (
	StateNotOnIO     = "not_on_io"   // no App IO profile
	StateNotAllowed  = "not_allowed" // opted out of the service
	StateLegalPerson = "legal_person"
)

// Precheck implements channels.Prechecker: a profile lookup.
func (s *Sender) Precheck(ctx context.Context, r channels.Recipient) (string, string, error) {
	if !s.Reaches(r) {
		return StateLegalPerson, "no personal fiscal code: App IO reaches citizens only", nil
	}
	prof, err := s.Client.GetProfile(ctx, s.Key, r.FiscalCode)
	switch {
	case errors.Is(err, ErrNotOnIO):
		return StateNotOnIO, "the citizen has no App IO profile", nil
	case err != nil:
		return "", "", err
	case !prof.SenderAllowed:
		return StateNotAllowed, "the citizen turned this service off in App IO", nil
	}
	return "", "", nil
}

// Kind implements channels.Sender.
func (*Sender) Kind() string { return KindAppIO }

// Reaches implements channels.Sender: App IO reaches people with a personal
// fiscal code (16 characters); companies and other legal persons (11
// digits) have no App IO profile. Whether the citizen has a profile and
// accepts the service is known only by asking: see Client.GetProfile.
func (*Sender) Reaches(r channels.Recipient) bool { return len(r.FiscalCode) == 16 }

// Message is the App IO message for m: Markdown (Text when empty), payment
// data and due date from m.Payment.
func (s *Sender) Message(m channels.Message) NewMessage {
	md := m.Markdown
	if md == "" {
		md = m.Text
	}
	ttl := 3600
	if m.TTL > 0 {
		ttl = int(min(max(m.TTL, time.Hour), 7*24*time.Hour) / time.Second)
	}
	level := s.FeatureLevel
	if level == "" {
		level = FeatureStandard
	}
	nm := NewMessage{FiscalCode: m.To.FiscalCode, TimeToLive: ttl, FeatureLevelType: level,
		Content: MessageContent{Subject: m.Subject, Markdown: md}}
	if p := m.Payment; p != nil {
		nm.Content.PaymentData = &PaymentData{Amount: p.AmountCents, NoticeNumber: p.NoticeNumber,
			InvalidAfterDueDate: p.InvalidAfterDueDate, Payee: &Payee{FiscalCode: p.PayeeFiscalCode}}
		if !p.DueDate.IsZero() {
			due := p.DueDate.UTC()
			nm.Content.DueDate = &due
		}
	}
	return nm
}

// Send implements channels.Sender: it validates the message against App
// IO's rules (a *ValidationError, Permanent) and submits it. A submit that
// may have created the message fails as Ambiguous (package failure).
func (s *Sender) Send(ctx context.Context, m channels.Message) (string, error) {
	return s.Client.SubmitMessage(ctx, s.Key, s.Message(m))
}
