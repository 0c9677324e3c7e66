package channels

import (
	"context"
	"time"

	"github.com/ponte-pa/ponte/connectors/registry"
)

// Sender delivers messages on one channel: App IO, email, SMS, a webhook.
// Email implements it here, App IO in package appio; a new channel kind
// implements it and registers itself in Kinds. Send's errors are classified
// with package failure (retryable, retry after, ambiguous, permanent); the
// Outbox turns them into the message's state.
type Sender interface {
	// Kind is the channel kind, e.g. "email", "appio", "sms".
	Kind() string
	// Reaches reports whether the channel can address r: email needs an
	// email address, SMS a phone number, App IO a citizen's fiscal code.
	Reaches(r Recipient) bool
	// Send delivers m once. It returns the channel's id of the message
	// ("" when the channel has none).
	Send(ctx context.Context, m Message) (id string, err error)
}

// Verifier is a Sender that can check, without sending anything, that
// the system behind it accepts its configuration (the relay takes its
// credentials, the platform its key): what `ponte config validate
// --online` and onboarding checks run.
type Verifier interface {
	Verify(ctx context.Context) error
}

// Prechecker is a Sender that can tell, without sending, that a person
// cannot receive on it at all (App IO: no profile, or the citizen opted
// out of the service), so that they go to their next channel at once
// instead of after a failed delivery.
type Prechecker interface {
	// Precheck returns "" when r can receive, else a final state naming
	// why not ("not_on_io") and a reason; a temporary failure is an error.
	Precheck(ctx context.Context, r Recipient) (state, reason string, err error)
}

// Tracker is a Sender whose channel reports whether a message it sent
// reached the person (an SMS gateway's delivery status): escalation waits
// for it before trying another channel.
type Tracker interface {
	// Delivery is the state of the message the channel calls id.
	Delivery(ctx context.Context, id string) (DeliveryState, error)
}

// Tracks says whether s reports deliveries: it is a Tracker and, when it
// says (a Tracking method: an SMS gateway with a statusUrl), it tracks.
func Tracks(s Sender) bool {
	t, ok := s.(interface{ Tracking() bool })
	_, tracker := s.(Tracker)
	return tracker && (!ok || t.Tracking())
}

// DeliveryState is what a channel knows of a sent message.
type DeliveryState string

// Delivery states.
const (
	DeliveryPending   DeliveryState = "pending"   // accepted, not delivered yet
	DeliveryDelivered DeliveryState = "delivered" // on the person's device
	DeliveryFailed    DeliveryState = "failed"    // the channel gave up
)

// Recipient is a person a message goes to, with every address known.
type Recipient struct {
	FiscalCode string
	Name       string
	Email      string
	Phone      string // E.164, e.g. +393331234567
	// Lang is the preferred language when known ("it", "en").
	Lang string
}

// Message is one message to one person, in a form every channel can use:
// a channel takes what it can carry (SMS the text, email the text and the
// attachments, App IO the Markdown and the payment data).
type Message struct {
	// Key is the message's business id (an outbox Key's String): stable
	// across retries, so a channel can derive its own ids from it.
	Key string
	// ID, when set, is the id the channel gives the message where it lets
	// the sender choose (an email's Message-ID).
	ID      string
	To      Recipient
	Subject string
	// Text is the whole message as plain text.
	Text string
	// Markdown is the message for channels that render it (App IO); Text
	// is used where it is empty.
	Markdown    string
	Attachments []Attachment
	// Payment, when set, is the pagoPA notice the message is about: App IO
	// shows a "pay" button with it.
	Payment *Payment
	// TTL bounds how long a channel keeps trying to deliver (0: the
	// channel's default).
	TTL time.Duration
}

// Payment is the pagoPA notice a message asks to pay.
type Payment struct {
	AmountCents     int64
	NoticeNumber    string // NAV, 18 digits
	PayeeFiscalCode string // the creditor ente
	// DueDate, when set, is shown with the notice (App IO due_date).
	DueDate time.Time
	// InvalidAfterDueDate says the notice cannot be paid after DueDate.
	InvalidAfterDueDate bool
}

// Kinds are the registered channel kinds a tenant config lists under
// channels: [{kind: email, …}, {kind: sms, …}]. Each kind registers itself
// from its own file (email.go) or package, with its config schema.
var Kinds = registry.New[Sender]("channel")
