package contracts

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
)

// maxBody bounds the bodies read for validation.
const maxBody = 8 << 20

// Transport is an http.RoundTripper that validates every exchange it
// carries against a contract and hands each violation to Report. A
// dropped connection still has its request checked.
type Transport struct {
	Validator *Validator
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Skip exempts requests from validation (e.g. a mock's /__mock/ API,
	// or an API whose contract is not embedded). Nil checks everything.
	Skip func(*http.Request) bool
	// Report receives every *Violation; nil ignores them (see Checked).
	Report func(error)

	mu        sync.Mutex
	requests  int
	responses int
}

// Checked returns how many requests and responses were validated.
func (t *Transport) Checked() (requests, responses int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.requests, t.responses
}

// Client returns an *http.Client that uses t.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }

func (t *Transport) report(err error) {
	if err != nil && t.Report != nil {
		t.Report(err)
	}
}

// RoundTrip validates req, sends it with Base and validates the response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	if t.Skip != nil && t.Skip(req) {
		return base.RoundTrip(req)
	}
	var reqBody []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	x, err := t.Validator.Request(req, reqBody)
	t.report(err)
	t.mu.Lock()
	t.requests++
	t.mu.Unlock()

	resp, err := base.RoundTrip(req)
	if err != nil || x == nil {
		return resp, err
	}
	respBody, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	if rerr != nil {
		// A broken body is the transport's business: hand it on unjudged.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(respBody), errReader{rerr}))
		return resp, nil
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	t.report(x.Response(resp.StatusCode, resp.Header, respBody))
	t.mu.Lock()
	t.responses++
	t.mu.Unlock()
	return resp, nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// GuardOptions say how a server answers in its contract's own terms.
type GuardOptions struct {
	// Refuse answers a request that breaks the contract, in the contract's
	// error shape (a 400 ProblemJson for GPD and App IO). Required.
	Refuse func(w http.ResponseWriter, r *http.Request, v *Violation)
	// Broken answers in place of a response of the guarded handler that
	// breaks the contract (a mock's own mistake), e.g. with a 500 that
	// says so, and records it. Required.
	Broken func(w http.ResponseWriter, r *http.Request, v *Violation)
}

// Guard makes next answer by the contract, as a mock must: a request that
// breaks the contract is refused before next sees it; a response of next
// that breaks the contract is replaced, so that a mock's own mistake
// cannot pass for a platform's answer. Requests that match no operation
// reach next unjudged (next answers 404 or 405).
func (v *Validator) Guard(next http.Handler, o GuardOptions) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body []byte
		if r.Body != nil {
			b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
			if err != nil {
				http.Error(w, "unreadable body: "+err.Error(), http.StatusBadRequest)
				return
			}
			if len(b) > maxBody {
				http.Error(w, "body over 8 MiB", http.StatusRequestEntityTooLarge)
				return
			}
			body = b
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		x, err := v.Request(r, body)
		if x == nil {
			next.ServeHTTP(w, r)
			return
		}
		var viol *Violation
		if errors.As(err, &viol) {
			o.Refuse(w, r, viol)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		res := rec.Result()
		if err := x.Response(res.StatusCode, res.Header, rec.Body.Bytes()); errors.As(err, &viol) {
			o.Broken(w, r, viol)
			return
		}
		for k, vs := range res.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(res.StatusCode)
		_, _ = w.Write(rec.Body.Bytes())
	})
}
