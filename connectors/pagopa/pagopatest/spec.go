// Package pagopatest holds test helpers for code that talks GPD: a transport
// that checks every HTTP request and response against the official GPD v1
// contract, embedded in schemas/contracts.
package pagopatest

import (
	"net/http"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/schemas/contracts"
	"github.com/ponte-pa/ponte/schemas/contracts/contractstest"
)

// NewTransport returns a transport (over http.DefaultTransport) that
// validates every GPD exchange against the contract and fails the test on a
// violation. Paths under /__mock/ are not checked, nor the GPD receipts API
// under /payments/, whose contract is not embedded (pagopa-gpd-payments has
// no licence: see schemas/contracts/README.md).
func NewTransport(t testing.TB) *contractstest.Transport {
	return contractstest.New(t, contracts.GPD(), nil, Skip)
}

// Skip reports the requests that have no embedded contract to check.
func Skip(r *http.Request) bool {
	return strings.HasPrefix(r.URL.Path, "/__mock/") || strings.HasPrefix(r.URL.Path, "/payments/")
}
