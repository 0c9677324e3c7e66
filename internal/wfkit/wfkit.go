// Package wfkit is what every workflow package shares, written once: the
// tenant lookup its activities use, the conversion of connector errors
// (package failure) into Temporal activity errors, the collection of a
// batch's temporary failures, and bounded fan-out over a batch's items.
package wfkit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.temporal.io/sdk/temporal"
	"golang.org/x/sync/errgroup"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/internal/tenant"
)

// Application error types of activity failures. Workflows list ErrBadInput
// (and the others, which are non-retryable anyway) in their retry policies'
// NonRetryableErrorTypes.
const (
	// ErrBadInput: bad config or input that no retry can fix.
	ErrBadInput = "BadInput"
	// ErrPermanent: an outside system refused for good (credentials, a
	// rejected request).
	ErrPermanent = "Permanent"
	// ErrAmbiguous: the operation may have been applied; a person checks.
	ErrAmbiguous = "Ambiguous"
	// ErrRetryable: a temporary failure; Temporal retries the activity,
	// after the server's hint when it gave one.
	ErrRetryable = "Retryable"
)

// BadInput is a non-retryable activity error for input no retry can fix;
// the message says what is wrong and what to do.
func BadInput(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	return temporal.NewNonRetryableApplicationError(err.Error(), ErrBadInput, err)
}

// Retryable is a retryable activity error; with after > 0, Temporal waits
// that long before the next attempt instead of the policy's backoff.
func Retryable(msg string, after time.Duration) error {
	if after > 0 {
		return temporal.NewApplicationErrorWithOptions(msg, ErrRetryable, temporal.ApplicationErrorOptions{NextRetryDelay: after})
	}
	return temporal.NewApplicationError(msg, ErrRetryable)
}

// ActivityError is the one place where a connector error becomes the error
// an activity returns, by its failure class: Retryable (with the server's
// RetryAfter as the next retry delay), Permanent and Ambiguous as
// non-retryable errors of their own types. Temporal application errors and
// a cancelled activity context pass through unchanged.
func ActivityError(err error) error {
	if err == nil {
		return nil
	}
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) || errors.Is(err, context.Canceled) {
		return err
	}
	switch f := failure.Of(err); f.Class {
	case failure.Permanent:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrPermanent, err)
	case failure.Ambiguous:
		return temporal.NewNonRetryableApplicationError(err.Error(), ErrAmbiguous, err)
	default:
		return Retryable(err.Error(), f.RetryAfter)
	}
}

// TenantLookup finds a tenant's loaded configuration by id.
type TenantLookup func(id string) (*tenant.Tenant, error)

// Get is the lookup as activities need it: an unknown tenant is bad input.
func (l TenantLookup) Get(id string) (*tenant.Tenant, error) {
	if l == nil {
		return nil, BadInput("tenant %q: this worker has no tenants loaded", id)
	}
	t, err := l(id)
	if err != nil {
		return nil, BadInput("tenant %q: %v", id, err)
	}
	return t, nil
}

// Retries collects the items of a batch that hit a temporary failure, and
// the longest wait any server asked for. It is safe for concurrent use.
type Retries struct {
	mu    sync.Mutex
	errs  []error
	delay time.Duration
	fatal error // a non-retryable activity error (bad input) among them
}

// Add records one item's temporary failure; what names the item (a source
// line, an IUPD) in the activity's error message.
func (r *Retries) Add(what string, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ae *temporal.ApplicationError
	if errors.As(err, &ae) && ae.NonRetryable() && r.fatal == nil {
		r.fatal = err // no retry can fix it: Err reports it instead
	}
	r.errs = append(r.errs, fmt.Errorf("%s: %w", what, err))
	r.delay = max(r.delay, failure.RetryAfter(err))
}

// Err is nil when nothing failed, else a retryable activity error that
// says how many of total items of a batch must be retried (what: "debt
// positions", "App IO messages"), lists their errors and carries the
// longest RetryAfter as the next retry delay; when one of them was a
// non-retryable activity error (bad input), it is that error instead.
// Items done in this attempt
// are recorded by the caller before it returns, so the retry skips them.
func (r *Retries) Err(what string, total int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	if r.fatal != nil {
		return r.fatal
	}
	return Retryable(fmt.Sprintf("%d of %d %s hit a temporary failure; the batch will be retried (done ones are skipped): %v",
		len(r.errs), total, what, errors.Join(r.errs...)), r.delay)
}

// ForEach calls fn on every item with at most n calls in flight, and stops
// starting new ones once ctx is done (the items not started are simply not
// processed: callers record what was done and retry the rest). fn reports
// its own outcome; ForEach returns ctx's error if it stopped early.
func ForEach[T any](ctx context.Context, n int, items []T, fn func(T)) error {
	var g errgroup.Group
	g.SetLimit(max(n, 1))
	for _, it := range items {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error { fn(it); return nil })
	}
	_ = g.Wait() // fn returns no error: outcomes are the caller's
	return ctx.Err()
}

// InChunks calls fn on successive chunks of at most size items, calling
// beat (a heartbeat) after each, until every chunk is done, fn fails or ctx
// ends. A batch works in chunks so that a crash leaves at most one chunk
// half done, and so that a long batch reports progress.
func InChunks[T any](ctx context.Context, items []T, size int, fn func([]T) error, beat func()) error {
	size = max(size, 1)
	for i := 0; i < len(items) && ctx.Err() == nil; i += size {
		if err := fn(items[i:min(i+size, len(items))]); err != nil {
			return err
		}
		beat()
	}
	return nil
}
