// Package appio is a client for the App IO Services API v4 (profile checks,
// message submission and delivery status) with typed errors that tell a
// Temporal activity what is worth retrying, plus what sending at scale
// needs: message templates checked against the spec's limits (TemplateSet),
// a rate limiter shared by all workers (SQLLimiter) and a ledger that makes
// sends idempotent by business key (Ledger, Client.SubmitOnce).
package appio

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/ponte-pa/ponte/connectors/failure"
)

// DefaultBaseURL is the production endpoint (host + basePath of the spec).
const DefaultBaseURL = "https://api.io.pagopa.it/api/v1"

// SubscriptionKeyHeader carries the service's key (securityDefinitions).
const SubscriptionKeyHeader = "Ocp-Apim-Subscription-Key"

const (
	defaultRetryMax     = 2
	defaultRetryWaitMin = 50 * time.Millisecond
	defaultRetryWaitMax = 500 * time.Millisecond
	defaultTimeout      = 30 * time.Second
	defaultPoll         = time.Second
	maxResponseBody     = 1 << 20
	userAgent           = "ponte-appio/1"
)

// Options configures a Client. The zero value talks to production with
// short retries on reads.
type Options struct {
	// BaseURL including the basePath, e.g. https://api.io.pagopa.it/api/v1.
	BaseURL string
	// HTTPClient sends the requests; default is a pooled client with a 30s
	// timeout per attempt.
	HTTPClient *http.Client
	// RetryMax is the number of in-client retries of reads (GET profile,
	// GET message) after a connection error or a 5xx. 0 means the default
	// (2); a negative value disables retries. Submits are never retried here.
	RetryMax int
	// RetryWaitMin and RetryWaitMax bound the backoff between read retries
	// (defaults 50ms and 500ms).
	RetryWaitMin, RetryWaitMax time.Duration
	// Logger receives debug and warning logs; nil discards them. Subscription
	// keys and fiscal codes are never logged.
	Logger *slog.Logger
	// Limiter, when set, is waited on before every HTTP request (retries of
	// reads included), keyed by the subscription key. Share one SQLLimiter
	// among all the workers of a deployment. nil means no client-side limit;
	// 429s are still classified as KindRateLimited with a RetryAfter.
	Limiter Limiter
}

// Client calls the App IO Services API. It is safe for concurrent use; one
// Client serves every IO service of every tenant, since each call takes the
// service's subscription key.
type Client struct {
	base   string
	reads  *retryablehttp.Client
	writes *http.Client
	log    *slog.Logger
	now    func() time.Time
}

type opKey struct{}

// NewClient returns a Client configured by o.
func NewClient(o Options) *Client {
	base := strings.TrimRight(o.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	hc := o.HTTPClient
	if hc == nil {
		hc = cleanhttp.DefaultPooledClient()
		hc.Timeout = defaultTimeout
	}
	if o.Limiter != nil {
		base := hc.Transport
		if base == nil {
			base = http.DefaultTransport
		}
		lc := *hc
		lc.Transport = &limitedTransport{base: base, limiter: o.Limiter}
		hc = &lc
	}
	retryMax := o.RetryMax
	switch {
	case retryMax == 0:
		retryMax = defaultRetryMax
	case retryMax < 0:
		retryMax = 0
	}
	wmin, wmax := o.RetryWaitMin, o.RetryWaitMax
	if wmin <= 0 {
		wmin = defaultRetryWaitMin
	}
	if wmax <= 0 {
		wmax = defaultRetryWaitMax
	}
	if wmax < wmin {
		wmax = wmin
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &Client{base: base, writes: hc, log: log, now: time.Now}
	c.reads = &retryablehttp.Client{
		HTTPClient:   hc,
		RetryWaitMin: wmin,
		RetryWaitMax: wmax,
		RetryMax:     retryMax,
		CheckRetry:   readRetryPolicy,
		Backoff: func(min, max time.Duration, n int, resp *http.Response) time.Duration {
			// DefaultBackoff honours Retry-After on 503 without a cap; keep
			// in-client waits short, longer waits belong to Temporal.
			return boundedBackoff(retryablehttp.DefaultBackoff(min, max, n, resp), max)
		},
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
		RequestLogHook: func(_ retryablehttp.Logger, r *http.Request, attempt int) {
			if attempt > 0 {
				op, _ := r.Context().Value(opKey{}).(string)
				c.log.Warn("appio: retrying read", "op", op, "attempt", attempt)
			}
		},
	}
	return c
}

func boundedBackoff(d, max time.Duration) time.Duration {
	if d > max {
		return max
	}
	return d
}

// readRetryPolicy retries reads on connection errors and 5xx (except 501),
// never on 429: rate limits are handed to the caller with their RetryAfter.
func readRetryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, nil, err)
	}
	if resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented {
		return true, nil
	}
	return false, nil
}

// GetProfile checks whether the citizen is on IO and accepts messages from
// the service identified by key. A citizen without a profile gives an
// *APIError of KindNotFound that matches ErrNotOnIO.
func (c *Client) GetProfile(ctx context.Context, key, fiscalCode string) (*Profile, error) {
	const op = OpGetProfile
	if err := checkCall(op, key, fiscalCode); err != nil {
		return nil, err
	}
	status, hdr, body, err := c.get(ctx, op, key, "/profiles/"+fiscalCode)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, c.classify(op, http.MethodGet, status, hdr, body)
	}
	var w struct {
		SenderAllowed      *bool    `json:"sender_allowed"`
		PreferredLanguages []string `json:"preferred_languages"`
	}
	if err := json.Unmarshal(body, &w); err != nil || w.SenderAllowed == nil {
		if err == nil {
			err = errors.New("sender_allowed missing")
		}
		return nil, &APIError{Kind: KindUnexpected, Status: status, Op: op, Err: fmt.Errorf("decoding profile: %w", err)}
	}
	return &Profile{SenderAllowed: *w.SenderAllowed, PreferredLanguages: w.PreferredLanguages}, nil
}

// SubmitMessage validates m and sends it with POST /messages (fiscal code in
// the body), returning the message id. It is never retried in-client: on
// failure, failure.IsAmbiguous(err) tells whether the message may exist anyway.
func (c *Client) SubmitMessage(ctx context.Context, key string, m NewMessage) (string, error) {
	return c.submit(ctx, key, m, true)
}

func (c *Client) submit(ctx context.Context, key string, m NewMessage, validate bool) (string, error) {
	const op = OpSubmitMessage
	if key == "" {
		return "", &APIError{Kind: KindValidation, Op: op, Err: invalid("subscription_key", "required", "")}
	}
	if validate {
		if err := m.Validate(); err != nil {
			return "", &APIError{Kind: KindValidation, Op: op, Err: err}
		}
	}
	payload, err := json.Marshal(m)
	if err != nil {
		return "", &APIError{Kind: KindValidation, Op: op, Err: err}
	}
	// Record whether the request left this process completely: after that,
	// a broken connection cannot tell whether the server stored the message.
	var wrote atomic.Bool
	tctx := httptrace.WithClientTrace(context.WithValue(ctx, opKey{}, op), &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(tctx, http.MethodPost, c.base+"/messages", bytes.NewReader(payload))
	if err != nil {
		return "", &APIError{Kind: KindUnexpected, Op: op, Err: err}
	}
	c.setHeaders(req.Header, key)
	req.Header.Set("Content-Type", "application/json")
	start := c.now()
	resp, err := c.writes.Do(req)
	if err != nil {
		e := c.transportError(op, err, wrote.Load())
		c.log.Warn("appio: submit failed", "op", op, "ambiguous", e.Ambiguous, "error", e.Err)
		return "", e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	c.log.Debug("appio: response", "op", op, "status", resp.StatusCode, "elapsed", c.now().Sub(start))
	if err != nil {
		e := c.transportError(op, err, true)
		e.Status = resp.StatusCode
		e.Ambiguous = resp.StatusCode < 400 || postAmbiguous(resp.StatusCode)
		return "", e
	}
	if resp.StatusCode/100 != 2 {
		return "", c.classify(op, http.MethodPost, resp.StatusCode, resp.Header, body)
	}
	var created struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.ID == "" {
		if err == nil {
			err = errors.New("no id in the answer")
		}
		// The server said it created the message, but we cannot name it.
		return "", &APIError{Kind: KindUnexpected, Status: resp.StatusCode, Op: op, Ambiguous: true, Err: fmt.Errorf("decoding created message: %w", err)}
	}
	return created.ID, nil
}

// GetMessage returns the processing status of a message sent by the service
// identified by key.
func (c *Client) GetMessage(ctx context.Context, key, fiscalCode, id string) (*MessageStatus, error) {
	const op = OpGetMessage
	if err := checkCall(op, key, fiscalCode); err != nil {
		return nil, err
	}
	if id == "" {
		return nil, &APIError{Kind: KindValidation, Op: op, Err: invalid("id", "required", "")}
	}
	status, hdr, body, err := c.get(ctx, op, key, "/messages/"+fiscalCode+"/"+url.PathEscape(id))
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, c.classify(op, http.MethodGet, status, hdr, body)
	}
	var w wireMessage
	if err := json.Unmarshal(body, &w); err != nil || w.Message.ID == "" {
		if err == nil {
			err = errors.New("message.id missing")
		}
		return nil, &APIError{Kind: KindUnexpected, Status: status, Op: op, Err: fmt.Errorf("decoding message: %w", err)}
	}
	return w.status(), nil
}

// WaitFinal polls GetMessage every poll (default 1s) until the message is
// PROCESSED, REJECTED or FAILED, or ctx ends. Retryable errors and 429s are
// waited out (honouring RetryAfter); other errors end the wait. When ctx
// ends first it returns the last status seen (possibly nil) and a
// KindRetryable *APIError wrapping ctx.Err().
func (c *Client) WaitFinal(ctx context.Context, key, fiscalCode, id string, poll time.Duration) (*MessageStatus, error) {
	if poll <= 0 {
		poll = defaultPoll
	}
	var last *MessageStatus
	var lastErr error
	for {
		st, err := c.GetMessage(ctx, key, fiscalCode, id)
		wait := poll
		switch {
		case err == nil && st.Final():
			return st, nil
		case err == nil:
			last = st
		case ctx.Err() != nil:
			// Fall through to the ctx check below.
		case !failure.IsRetryable(err):
			return last, err
		default:
			lastErr = err
			if ra := failure.RetryAfter(err); ra > wait {
				wait = ra
			}
		}
		if ctx.Err() != nil {
			return last, c.waitExpired(ctx, last, lastErr)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return last, c.waitExpired(ctx, last, lastErr)
		case <-t.C:
		}
	}
}

func (c *Client) waitExpired(ctx context.Context, last *MessageStatus, lastErr error) error {
	state := "unknown"
	if last != nil {
		state = last.Status
	}
	return &APIError{Kind: KindRetryable, Op: OpGetMessage,
		Err: fmt.Errorf("message not final (last status %s): %w", state, errors.Join(ctx.Err(), lastErr))}
}

func checkCall(op, key, fiscalCode string) error {
	if key == "" {
		return &APIError{Kind: KindValidation, Op: op, Err: invalid("subscription_key", "required", "")}
	}
	if err := checkFiscalCode("fiscal_code", fiscalCode); err != nil {
		return &APIError{Kind: KindValidation, Op: op, Err: err}
	}
	return nil
}

func (c *Client) setHeaders(h http.Header, key string) {
	h.Set(SubscriptionKeyHeader, key)
	h.Set("Accept", "application/json")
	h.Set("User-Agent", userAgent)
}

// get performs an idempotent read with in-client retries.
func (c *Client) get(ctx context.Context, op, key, path string) (int, http.Header, []byte, error) {
	req, err := retryablehttp.NewRequestWithContext(context.WithValue(ctx, opKey{}, op), http.MethodGet, c.base+path, nil)
	if err != nil {
		return 0, nil, nil, &APIError{Kind: KindUnexpected, Op: op, Err: err}
	}
	c.setHeaders(req.Header, key)
	start := c.now()
	resp, err := c.reads.Do(req)
	if err != nil {
		e := c.transportError(op, err, false)
		c.log.Warn("appio: read failed", "op", op, "error", e.Err)
		return 0, nil, nil, e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBody))
	c.log.Debug("appio: response", "op", op, "status", resp.StatusCode, "elapsed", c.now().Sub(start))
	if err != nil {
		e := c.transportError(op, err, false)
		e.Status = resp.StatusCode
		return 0, nil, nil, e
	}
	return resp.StatusCode, resp.Header, body, nil
}

// transportError classifies an error without an HTTP answer.
func (c *Client) transportError(op string, err error, ambiguous bool) *APIError {
	kind := KindRetryable
	var uae x509.UnknownAuthorityError
	var cie x509.CertificateInvalidError
	var hne x509.HostnameError
	var rhe tls.RecordHeaderError
	if errors.As(err, &uae) || errors.As(err, &cie) || errors.As(err, &hne) || errors.As(err, &rhe) {
		// A TLS misconfiguration does not heal by retrying, and no request
		// was sent.
		kind, ambiguous = KindUnexpected, false
	}
	// net/http puts the URL in its errors; ours carry fiscal codes, which
	// must not reach logs or workflow histories.
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = fiscalCodeInText.ReplaceAllString(ue.URL, "{fiscal_code}")
	}
	return &APIError{Kind: kind, Op: op, Ambiguous: ambiguous, Err: err}
}

// postAmbiguous reports whether a submit answered with status may still have
// created the message. 502 and 504 come from a gateway that may have
// forwarded the request; 500 is documented as "the message cannot be
// delivered" and 503 means the backend was not reached.
func postAmbiguous(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusGatewayTimeout
}

// classify turns a non-success answer into an *APIError.
func (c *Client) classify(op, method string, status int, hdr http.Header, body []byte) *APIError {
	e := &APIError{Status: status, Op: op}
	if len(body) > 0 {
		var p ProblemJSON
		if json.Unmarshal(body, &p) == nil && (p.Title != "" || p.Detail != "" || p.Status != 0) {
			e.Problem = &p
		}
	}
	switch {
	case status == http.StatusBadRequest:
		e.Kind = KindValidation
	case status == http.StatusUnauthorized:
		e.Kind = KindUnauthorized
	case status == http.StatusForbidden:
		e.Kind = KindForbidden
	case status == http.StatusNotFound:
		e.Kind = KindNotFound
	case status == http.StatusTooManyRequests:
		e.Kind = KindRateLimited
		e.RetryAfter = DefaultRetryAfter
		if d, ok := failure.ParseRetryAfter(hdr.Get("Retry-After"), c.now()); ok {
			e.RetryAfter = d
		}
	case status >= 500:
		e.Kind = KindRetryable
		e.Ambiguous = method == http.MethodPost && postAmbiguous(status)
	default:
		e.Kind = KindUnexpected
	}
	if e.Kind == KindRateLimited || e.Kind == KindRetryable {
		c.log.Warn("appio: call failed", "op", op, "status", status, "kind", e.Kind.String(), "retry_after", e.RetryAfter)
	} else {
		c.log.Debug("appio: call failed", "op", op, "status", status, "kind", e.Kind.String())
	}
	return e
}
