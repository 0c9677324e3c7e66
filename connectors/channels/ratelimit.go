package channels

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// RateLimit is a channel's own rate limit (rateLimit in its config): at
// most Requests messages in any Window.
type RateLimit struct {
	Requests int    `json:"requests"`
	Window   string `json:"window"`
}

// RateLimitOf reads rateLimit from a channel's config (nil when absent).
func RateLimitOf(cfg json.RawMessage) (limit int, window time.Duration, err error) {
	var c struct {
		RateLimit *RateLimit `json:"rateLimit"`
	}
	if err := json.Unmarshal(cfg, &c); err != nil || c.RateLimit == nil {
		return 0, 0, err
	}
	w, err := time.ParseDuration(c.RateLimit.Window)
	if err != nil || w <= 0 || c.RateLimit.Requests <= 0 {
		return 0, 0, fmt.Errorf("rateLimit: %d requests per %q: give a positive number and a duration such as 1s", c.RateLimit.Requests, c.RateLimit.Window)
	}
	return c.RateLimit.Requests, w, nil
}

// Limited is a Sender that waits for its rate limit before each message;
// it passes the inner Sender's prechecks and delivery receipts through.
type Limited struct {
	Sender
	// Wait blocks until one more message may go, or ctx ends.
	Wait func(ctx context.Context) error
}

var (
	_ Prechecker = (*Limited)(nil)
	_ Tracker    = (*Limited)(nil)
)

// Send implements Sender: it waits for the limit, then sends. A wait cut
// short by ctx is a temporary failure: the message was not sent.
func (l *Limited) Send(ctx context.Context, m Message) (string, error) {
	if err := l.Wait(ctx); err != nil {
		return "", err
	}
	return l.Sender.Send(ctx, m)
}

// Precheck implements Prechecker when the inner Sender does.
func (l *Limited) Precheck(ctx context.Context, r Recipient) (string, string, error) {
	if p, ok := l.Sender.(Prechecker); ok {
		return p.Precheck(ctx, r)
	}
	return "", "", nil
}

// Tracking says whether the inner Sender reports deliveries.
func (l *Limited) Tracking() bool { return Tracks(l.Sender) }

// Delivery implements Tracker for an inner Sender that reports deliveries.
func (l *Limited) Delivery(ctx context.Context, id string) (DeliveryState, error) {
	if t, ok := l.Sender.(Tracker); ok {
		return t.Delivery(ctx, id)
	}
	return DeliveryDelivered, nil
}
