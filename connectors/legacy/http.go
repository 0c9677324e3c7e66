package legacy

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/schemas"
)

// Auth kinds of HTTP sources and sinks.
const (
	AuthNone   = "none"
	AuthAPIKey = "apikey"
	AuthBasic  = "basic"
	AuthBearer = "bearer"
)

// AuthConfig says how REST and SOAP connectors authenticate. Key, Password and Token
// are secret references (env:NAME or file:path).
type AuthConfig struct {
	Kind     string `json:"kind,omitempty"`     // none (default), apikey, basic, bearer
	Header   string `json:"header,omitempty"`   // apikey header, default X-API-Key
	Key      string `json:"key,omitempty"`      // apikey: secret reference
	Username string `json:"username,omitempty"` // basic
	Password string `json:"password,omitempty"` // basic: secret reference
	Token    string `json:"token,omitempty"`    // bearer: secret reference
}

func (a AuthConfig) check(kind string) error {
	need := func(field, v string) error {
		if !strings.HasPrefix(v, "env:") && !strings.HasPrefix(v, "file:") {
			return fmt.Errorf("legacy: %s: auth.%s must be a secret reference (env:NAME or file:path)", kind, field)
		}
		return nil
	}
	switch a.Kind {
	case "", AuthNone:
		return nil
	case AuthAPIKey:
		return need("key", a.Key)
	case AuthBasic:
		if a.Username == "" {
			return fmt.Errorf("legacy: %s: auth.username is required for basic auth", kind)
		}
		return need("password", a.Password)
	case AuthBearer:
		return need("token", a.Token)
	}
	return fmt.Errorf("legacy: %s: auth.kind %q: use none, apikey, basic or bearer", kind, a.Kind)
}

// authorizer resolves the secrets once and sets them on each request.
type authorizer func(*http.Request)

func (a AuthConfig) resolve(baseDir string) (authorizer, error) {
	switch a.Kind {
	case AuthAPIKey:
		k, err := resolveSecret(a.Key, baseDir)
		if err != nil {
			return nil, err
		}
		h := a.Header
		if h == "" {
			h = "X-API-Key"
		}
		return func(r *http.Request) { r.Header.Set(h, k) }, nil
	case AuthBasic:
		p, err := resolveSecret(a.Password, baseDir)
		if err != nil {
			return nil, err
		}
		return func(r *http.Request) { r.SetBasicAuth(a.Username, p) }, nil
	case AuthBearer:
		t, err := resolveSecret(a.Token, baseDir)
		if err != nil {
			return nil, err
		}
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+t) }, nil
	}
	return func(*http.Request) {}, nil
}

// HTTPConfig holds the client settings shared by REST and SOAP connectors.
type HTTPConfig struct {
	TimeoutSeconds int `json:"timeoutSeconds,omitempty"` // per attempt, default 30
	Retries        int `json:"retries,omitempty"`        // on 5xx and network errors, default 3; -1 for none
}

// HTTPError is a response the connector could not use.
type HTTPError struct {
	Method, URL string // URL without its query
	Status      int
	Body        string // first bytes of the body
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("legacy: %s %s: HTTP %d", e.Method, e.URL, e.Status)
	if e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden {
		msg += ": authentication refused, check auth in the source config (credenziali rifiutate: verificare auth nella configurazione)"
	}
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// Failure classifies the error for the one error model (package failure):
// 408, 429 and 5xx may pass on a later try; other answers will not.
func (e *HTTPError) Failure() failure.Info {
	if e.Status == http.StatusRequestTimeout || e.Status == http.StatusTooManyRequests || e.Status >= 500 {
		return failure.Info{Class: failure.Retryable}
	}
	return failure.Info{Class: failure.Permanent}
}

// ErrUnauthorized is matched by errors.Is on an *HTTPError with status 401 or 403.
var ErrUnauthorized = errors.New("legacy: authentication refused")

// Is makes errors.Is(err, ErrUnauthorized) work.
func (e *HTTPError) Is(target error) bool {
	return target == ErrUnauthorized && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden)
}

// maxResponse bounds a response body: pages are small, a huge one is a misconfiguration.
const maxResponse = 32 << 20

func newRetryClient(c HTTPConfig, soap bool) *retryablehttp.Client {
	rc := retryablehttp.NewClient()
	rc.Logger = nil // URLs may carry tokens in query strings
	rc.RetryMax = 3
	if c.Retries > 0 {
		rc.RetryMax = c.Retries
	} else if c.Retries < 0 {
		rc.RetryMax = 0
	}
	rc.RetryWaitMin = 50 * time.Millisecond
	rc.RetryWaitMax = 2 * time.Second
	timeout := 30 * time.Second
	if c.TimeoutSeconds > 0 {
		timeout = time.Duration(c.TimeoutSeconds) * time.Second
	}
	rc.HTTPClient.Timeout = timeout
	rc.ErrorHandler = retryablehttp.PassthroughErrorHandler
	rc.CheckRetry = func(ctx context.Context, resp *http.Response, err error) (bool, error) {
		// SOAP 1.1 reports faults with HTTP 500: a fault is an answer, not an outage.
		if soap && err == nil && resp != nil && resp.StatusCode == http.StatusInternalServerError {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
			resp.Body.Close()
			resp.Body = io.NopCloser(bytes.NewReader(b))
			if bytes.Contains(b, []byte("Fault>")) {
				return false, nil
			}
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return rc
}

// do sends a request and returns the body of a 2xx response (or, with okStatus, of
// that status too); anything else is an *HTTPError.
func doHTTP(ctx context.Context, rc *retryablehttp.Client, auth authorizer, method, u string, body []byte, headers map[string]string, okStatus int) (*http.Response, []byte, error) {
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, rb)
	if err != nil {
		return nil, nil, fmt.Errorf("legacy: %s %s: %w", method, redact(u), err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	auth(req.Request)
	resp, err := rc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("legacy: %s %s: %w", method, redact(u), errors.Unwrap(err))
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, nil, fmt.Errorf("legacy: %s %s: reading the response: %w", method, redact(u), err)
	}
	if len(b) > maxResponse {
		return nil, nil, fmt.Errorf("legacy: %s %s: response larger than %d bytes: lower the page size", method, redact(u), maxResponse)
	}
	if (resp.StatusCode < 200 || resp.StatusCode > 299) && resp.StatusCode != okStatus {
		return resp, b, &HTTPError{Method: method, URL: redact(u), Status: resp.StatusCode, Body: clip(strings.TrimSpace(string(b)))}
	}
	return resp, b, nil
}

// redact drops the query string, which may hold keys.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}

// JSONPath walks a decoded JSON value along a dotted path ("data.items",
// "contribuente.codiceFiscale", "items.0.id"); "" is v itself.
func JSONPath(v any, path string) (any, bool) {
	if path == "" {
		return v, true
	}
	return schemas.Walk(v, strings.Split(path, "."))
}

// nextLink returns the rel="next" target of a Link header, resolved against base.
func nextLink(h http.Header, base string) string {
	for _, v := range h.Values("Link") {
		for _, part := range strings.Split(v, ",") {
			segs := strings.Split(part, ";")
			target := strings.TrimSpace(segs[0])
			if !strings.HasPrefix(target, "<") || !strings.HasSuffix(target, ">") {
				continue
			}
			for _, p := range segs[1:] {
				p = strings.TrimSpace(p)
				k, val, _ := strings.Cut(p, "=")
				if strings.EqualFold(strings.TrimSpace(k), "rel") && containsStr(strings.Fields(strings.ToLower(strings.Trim(val, `"`))), "next") {
					b, err := url.Parse(base)
					if err != nil {
						return ""
					}
					t, err := b.Parse(target[1 : len(target)-1])
					if err != nil {
						return ""
					}
					return t.String()
				}
			}
		}
	}
	return ""
}
