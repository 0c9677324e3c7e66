package pagopa

import (
	"errors"
	"fmt"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// ErrorKind classifies GPD failures so that callers (Temporal activities) can
// decide between retrying and failing for good.
type ErrorKind int

// Error kinds.
const (
	KindUnexpected     ErrorKind = iota // anything else; not retryable
	KindValidation                      // 400, or rejected by client-side validation (Status 0)
	KindNotFound                        // 404
	KindConflict                        // 409 (duplicate IUPD/IUV with other content, related payment), 422
	KindNotPublishable                  // 409 on publish: the position is not in DRAFT
	KindUnauthorized                    // 401, 403
	KindRetryable                       // 5xx, timeouts and connection errors
	KindRateLimited                     // 429; RetryAfter says when to try again
)

// DefaultRetryAfter is the RetryAfter of a 429 without a usable Retry-After
// header: the API Management gateway in front of GPD throttles per
// subscription key, and an immediate retry would be throttled again.
const DefaultRetryAfter = 5 * time.Second

func (k ErrorKind) String() string {
	switch k {
	case KindValidation:
		return "validation"
	case KindNotFound:
		return "not-found"
	case KindConflict:
		return "conflict"
	case KindNotPublishable:
		return "not-publishable"
	case KindUnauthorized:
		return "unauthorized"
	case KindRetryable:
		return "retryable"
	case KindRateLimited:
		return "rate-limited"
	default:
		return "unexpected"
	}
}

// APIError is a failed GPD operation. Status is 0 when no HTTP answer was had
// (client-side validation, connection error).
type APIError struct {
	Kind       ErrorKind
	Status     int
	Title      string
	Detail     string
	RetryAfter time.Duration // from Retry-After, when the server sent one
	Op         string        // e.g. "create", "publish"
	IUPD       string        // when known
	Err        error         // underlying cause, if any
}

func (e *APIError) Error() string {
	s := "gpd " + e.Op
	if e.IUPD != "" {
		s += " " + e.IUPD
	}
	if e.Status != 0 {
		s += fmt.Sprintf(": HTTP %d", e.Status)
	} else {
		s += ": " + e.Kind.String()
	}
	if e.Title != "" {
		s += " " + e.Title
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	} else if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause (e.g. ValidationErrors).
func (e *APIError) Unwrap() error { return e.Err }

// Failure classifies the error for the one error model (package failure):
// 5xx, timeouts and connection errors are Retryable, a 429 Retryable after
// RetryAfter; everything else is Permanent. Creates are never Ambiguous:
// a position is keyed by its IUPD, so a create retried after a lost answer
// finds the first one instead of making a second (see GPDClient.Create).
func (e *APIError) Failure() failure.Info {
	if e.Kind == KindRetryable || e.Kind == KindRateLimited {
		return failure.Info{Class: failure.Retryable, RetryAfter: e.RetryAfter}
	}
	return failure.Info{Class: failure.Permanent}
}

// KindOf returns the kind of an *APIError in err's chain, or KindUnexpected.
func KindOf(err error) ErrorKind {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Kind
	}
	return KindUnexpected
}

// IsNotFound reports whether err is a GPD 404.
func IsNotFound(err error) bool { return err != nil && KindOf(err) == KindNotFound }

// IsConflict reports whether err is a GPD conflict (KindConflict).
func IsConflict(err error) bool { return err != nil && KindOf(err) == KindConflict }
