// Package contractstest validates a test's HTTP traffic against an embedded
// contract: a request or response that breaks it fails the test.
package contractstest

import (
	"net/http"
	"sync"
	"testing"

	"github.com/ponte-pa/ponte/schemas/contracts"
)

// Transport is an http.RoundTripper that validates every exchange it
// carries and fails the test on a violation. Tests that send bad requests
// on purpose call AllowInvalidRequests; a response that breaks the
// contract always fails the test.
type Transport struct {
	contracts.Transport
	t testing.TB

	mu           sync.Mutex
	allowInvalid bool
	reqViolation []error
}

// New wraps base (nil means http.DefaultTransport) with validation by v.
// skip, if not nil, exempts requests (e.g. a mock's /__mock/ API).
func New(t testing.TB, v *contracts.Validator, base http.RoundTripper, skip func(*http.Request) bool) *Transport {
	tr := &Transport{t: t}
	tr.Validator, tr.Base, tr.Skip = v, base, skip
	tr.Report = tr.report
	return tr
}

func (tr *Transport) report(err error) {
	if v, ok := err.(*contracts.Violation); ok && v.Status == 0 {
		tr.mu.Lock()
		tr.reqViolation = append(tr.reqViolation, err)
		allow := tr.allowInvalid
		tr.mu.Unlock()
		if allow {
			return
		}
	}
	tr.t.Errorf("contractstest: %v", err)
}

// AllowInvalidRequests makes request violations be recorded (see
// RequestViolations) instead of failing the test.
func (tr *Transport) AllowInvalidRequests(allow bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.allowInvalid = allow
}

// RequestViolations returns the request violations seen so far, allowed
// or not.
func (tr *Transport) RequestViolations() []error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]error(nil), tr.reqViolation...)
}

// Client returns an *http.Client that uses tr.
func (tr *Transport) Client() *http.Client { return &http.Client{Transport: tr} }
