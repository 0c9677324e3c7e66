package appio

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// Operation names used in APIError.Op (the spec's operationIds).
const (
	OpGetProfile    = "getProfile"
	OpSubmitMessage = "submitMessageforUserWithFiscalCodeInBody"
	OpGetMessage    = "getMessage"
)

// DefaultRetryAfter is the RetryAfter of a 429 answer without a usable
// Retry-After header (the spec documents none).
const DefaultRetryAfter = 5 * time.Second

// ErrNotOnIO matches (with errors.Is) a getProfile 404: the citizen has no
// IO profile, so no message can be sent.
var ErrNotOnIO = errors.New("appio: citizen not on IO")

// ErrorKind classifies an APIError for retry decisions.
type ErrorKind int

const (
	// KindUnexpected is an answer the client cannot classify (e.g. 3xx, 418,
	// an undecodable 2xx body). Not retryable.
	KindUnexpected ErrorKind = iota
	// KindValidation is bad input: a local *ValidationError or a 400 with a
	// ProblemJSON. Not retryable.
	KindValidation
	// KindUnauthorized is a 401: missing or unknown subscription key.
	KindUnauthorized
	// KindForbidden is a 403: the service is not allowed to do this.
	KindForbidden
	// KindNotFound is a 404: no such profile (ErrNotOnIO) or message.
	KindNotFound
	// KindRateLimited is a 429; RetryAfter says when to try again.
	KindRateLimited
	// KindRetryable is a 5xx, a timeout or a connection error.
	KindRetryable
)

var kindNames = [...]string{"unexpected", "validation", "unauthorized", "forbidden", "not found", "rate limited", "retryable"}

func (k ErrorKind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// ProblemJSON is an RFC 7807 problem as the API returns it (ProblemJson).
type ProblemJSON struct {
	Type     string `json:"type,omitempty"`
	Title    string `json:"title,omitempty"`
	Status   int    `json:"status,omitempty"`
	Detail   string `json:"detail,omitempty"`
	Instance string `json:"instance,omitempty"`
}

// APIError is the error of every Client call.
type APIError struct {
	Kind ErrorKind
	// Status is the HTTP status, 0 when no answer was received.
	Status int
	// Op is the operation, one of the Op* constants.
	Op string
	// Problem is the decoded ProblemJSON body, when there was one.
	Problem *ProblemJSON
	// RetryAfter is set for KindRateLimited.
	RetryAfter time.Duration
	// Ambiguous is set when a submit may have reached the server (the
	// connection broke or timed out after the request was written, or a
	// gateway failed): a resend may deliver the message twice.
	Ambiguous bool
	// Err is the underlying error (transport error, *ValidationError, …).
	Err error
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("appio: ")
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Status != 0 {
		fmt.Fprintf(&b, "%d %s: ", e.Status, http.StatusText(e.Status))
	}
	b.WriteString(e.Kind.String())
	if e.Problem != nil {
		if e.Problem.Title != "" {
			b.WriteString(": " + e.Problem.Title)
		}
		if e.Problem.Detail != "" {
			b.WriteString(": " + e.Problem.Detail)
		}
	}
	if e.Kind == KindRateLimited {
		fmt.Fprintf(&b, " (retry after %s)", e.RetryAfter)
	}
	if e.Ambiguous {
		b.WriteString(" (ambiguous: the server may have accepted the message)")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *APIError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrNotOnIO) true for a getProfile 404.
func (e *APIError) Is(target error) bool {
	return target == ErrNotOnIO && e.Kind == KindNotFound && e.Op == OpGetProfile
}

// Failure classifies the error for the one error model (package failure):
// an answer that may have created the message is Ambiguous whatever its
// kind; a 429 is Retryable after RetryAfter, as are 5xx, timeouts and
// connection errors; everything else (validation, 401, 403, 404) is
// Permanent.
func (e *APIError) Failure() failure.Info {
	switch {
	case e.Ambiguous:
		return failure.Info{Class: failure.Ambiguous}
	case e.Kind == KindRateLimited || e.Kind == KindRetryable:
		return failure.Info{Class: failure.Retryable, RetryAfter: e.RetryAfter}
	}
	return failure.Info{Class: failure.Permanent}
}

// KindOf returns the ErrorKind of err, KindUnexpected if it is no *APIError.
func KindOf(err error) ErrorKind {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Kind
	}
	return KindUnexpected
}
