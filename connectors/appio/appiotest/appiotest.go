// Package appiotest checks HTTP traffic against the official App IO Services
// API contract, embedded in schemas/contracts. It is a test helper for the
// appio client.
package appiotest

import (
	"net/http"
	"testing"

	"github.com/ponte-pa/ponte/schemas/contracts"
	"github.com/ponte-pa/ponte/schemas/contracts/contractstest"
)

// NewTransport wraps base (nil means http.DefaultTransport) with a transport
// that validates every request it sends and every response it receives
// against the App IO contract, failing the test on a violation. The base
// URL of the clients using it ends in /api/v1, the spec's basePath.
func NewTransport(t testing.TB, base http.RoundTripper) *contractstest.Transport {
	return contractstest.New(t, contracts.AppIO(), base, nil)
}
