// Package failure is the one error model of Ponte's connectors. Every error a
// connector returns answers the same questions — can trying again help, after
// how long, and may the operation already have been applied — so that callers
// (Temporal activities, the outbox) decide once, in one place, instead of
// learning each connector's own error kinds.
package failure

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Class says what a caller may do after a failed operation.
type Class int

const (
	// Retryable: the operation was not applied and trying again later may
	// succeed (a 5xx, a timeout before the request was sent, a 429). With a
	// RetryAfter, the server said how long to wait.
	Retryable Class = iota
	// Permanent: no retry can fix it — bad input, a refusal, a missing or
	// wrong credential, a broken configuration. Fix the cause first.
	Permanent
	// Ambiguous: the operation may or may not have been applied (the
	// connection broke after the request was written). Sending again may
	// deliver twice; record the outcome as unknown and let a person check.
	Ambiguous
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Permanent:
		return "permanent"
	case Ambiguous:
		return "ambiguous"
	}
	return fmt.Sprintf("class(%d)", int(c))
}

// Info is how an error is classified.
type Info struct {
	Class Class
	// RetryAfter, for a Retryable failure, is how long the server asked to
	// wait (a 429's or 503's Retry-After); zero when it gave no hint.
	RetryAfter time.Duration
}

// Classifier is implemented by connector errors: each connector maps its
// own kinds (HTTP statuses, SMTP replies, SOAP faults) to an Info once.
type Classifier interface {
	Failure() Info
}

// Of classifies err. The first Classifier in err's chain decides. Errors
// that classify themselves nowhere count as Retryable — an unknown failure
// of infrastructure (a database, the network) is usually transient, and
// durable retries are bounded by the caller's retry policy — except a
// cancelled context, which is Permanent for the operation at hand.
func Of(err error) Info {
	if err == nil {
		return Info{}
	}
	var c Classifier
	if errors.As(err, &c) {
		return c.Failure()
	}
	if errors.Is(err, context.Canceled) {
		return Info{Class: Permanent}
	}
	return Info{Class: Retryable}
}

// IsRetryable reports whether err is a failure that a later attempt may fix.
func IsRetryable(err error) bool { return err != nil && Of(err).Class == Retryable }

// IsPermanent reports whether err is a failure no retry can fix.
func IsPermanent(err error) bool { return err != nil && Of(err).Class == Permanent }

// IsAmbiguous reports whether the failed operation may have been applied.
func IsAmbiguous(err error) bool { return err != nil && Of(err).Class == Ambiguous }

// RetryAfter is the wait the server asked for, zero when none.
func RetryAfter(err error) time.Duration {
	if err == nil {
		return 0
	}
	return Of(err).RetryAfter
}

// Error is a classified error for code that has no error type of its own.
type Error struct {
	Info
	Err error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Failure implements Classifier.
func (e *Error) Failure() Info { return e.Info }

// Mark classifies err as c (nil stays nil).
func Mark(c Class, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Info: Info{Class: c}, Err: err}
}

// After marks err as Retryable after d.
func After(d time.Duration, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Info: Info{Class: Retryable, RetryAfter: d}, Err: err}
}

// Permanentf is a Permanent error with a formatted message (%w wraps).
func Permanentf(format string, args ...any) error {
	return Mark(Permanent, fmt.Errorf(format, args...))
}

// Retryablef is a Retryable error with a formatted message (%w wraps).
func Retryablef(format string, args ...any) error {
	return Mark(Retryable, fmt.Errorf(format, args...))
}

// ParseRetryAfter reads a Retry-After header, in delay-seconds or as an
// HTTP-date; a hint over a day, negative or unreadable is no hint (false).
func ParseRetryAfter(h string, now time.Time) (time.Duration, bool) {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(h, 10, 64); err == nil {
		if n < 0 || n > 24*3600 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(h); err == nil {
		d := t.Sub(now)
		if d < 0 {
			d = 0
		}
		if d > 24*time.Hour {
			return 0, false
		}
		return d, true
	}
	return 0, false
}
