package channels

import (
	"net/http"
	"time"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// HTTPError is a failed send to an HTTP endpoint: an SMS gateway, a
// webhook.
type HTTPError struct {
	Channel string // the channel kind, e.g. "sms"
	Op      string
	Status  int // the endpoint's answer, 0 when none came
	Err     error
	// RetryAfter is the endpoint's Retry-After hint.
	RetryAfter time.Duration
	// Ambiguous: the request may have reached the endpoint, with no
	// (readable) answer.
	Ambiguous bool
}

func (e *HTTPError) Error() string { return e.Channel + ": " + e.Op + ": " + e.Err.Error() }
func (e *HTTPError) Unwrap() error { return e.Err }

// Failure classifies the error once: no answer → ambiguous (the endpoint
// drops a resend by the message's reference, so the outbox may resend);
// 408, 429 and 5xx → retryable, after the endpoint's Retry-After; other
// 4xx and a message that cannot be sent as it is → permanent.
func (e *HTTPError) Failure() failure.Info {
	switch {
	case e.Ambiguous:
		return failure.Info{Class: failure.Ambiguous}
	case e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500:
		return failure.Info{Class: failure.Retryable, RetryAfter: e.RetryAfter}
	}
	return failure.Info{Class: failure.Permanent}
}

// answerError is the error of an answer that is not 2xx.
func answerError(channel string, resp *http.Response, err error) *HTTPError {
	e := &HTTPError{Channel: channel, Op: "POST", Status: resp.StatusCode, Err: err}
	if d, ok := failure.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
		e.RetryAfter = d
	}
	return e
}
