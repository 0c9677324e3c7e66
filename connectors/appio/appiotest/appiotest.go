// Package appiotest checks HTTP traffic against the official App IO Services
// API contract (Swagger 2.0, converted to OpenAPI 3 in memory). It is a test
// helper for the appio client and the appio mock.
package appiotest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"sigs.k8s.io/yaml"
)

// SpecPath is the spec's path relative to a package directory two levels
// below the module root (connectors/appio, mocks/appio).
const SpecPath = "../../../shared/specs/io-services-v4.yaml"

// specHost is the spec's host; requests are re-addressed to it for routing.
const specHost = "api.io.pagopa.it"

var formatsOnce sync.Once

// defineFormats gives the spec's custom formats the patterns of
// @pagopa/ts-commons, so they are checked too (kin-openapi registers
// formats globally).
func defineFormats() {
	formatsOnce.Do(func() {
		openapi3.DefineStringFormatValidator("FiscalCode", openapi3.NewRegexpFormatValidator(
			`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`))
		openapi3.DefineStringFormatValidator("OrganizationFiscalCode", openapi3.NewRegexpFormatValidator(`^[0-9]{11}$`))
		openapi3.DefineStringFormatValidator("UTCISODateFromString", openapi3.NewRegexpFormatValidator(
			`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$`))
	})
}

// LoadSpec reads the Swagger 2.0 spec at path and converts it to OpenAPI 3.
func LoadSpec(path string) (*openapi3.T, error) {
	defineFormats()
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("converting %s to JSON: %w", path, err)
	}
	var doc2 openapi2.T
	if err := doc2.UnmarshalJSON(js); err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("converting %s to OpenAPI 3: %w", path, err)
	}
	return doc3, nil
}

var (
	routersMu sync.Mutex
	routerMap = map[string]routers.Router{}
)

// routerFor loads and routes a spec once per path; routers are read-only
// once built, so tests share them.
func routerFor(path string) (routers.Router, error) {
	routersMu.Lock()
	defer routersMu.Unlock()
	if r, ok := routerMap[path]; ok {
		return r, nil
	}
	doc, err := LoadSpec(path)
	if err != nil {
		return nil, err
	}
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("router: %w", err)
	}
	routerMap[path] = r
	return r, nil
}

// Transport is an http.RoundTripper that validates every request it sends
// and every response it receives against the spec, failing the test on a
// violation.
type Transport struct {
	t      testing.TB
	base   http.RoundTripper
	router routers.Router

	mu             sync.Mutex
	allowInvalid   bool
	requests       int
	responses      int
	reqViolations  []error
	respViolations []error
}

// NewTransport loads the spec at specPath and wraps base (nil means
// http.DefaultTransport). It fails the test if the spec cannot be loaded.
func NewTransport(t testing.TB, specPath string, base http.RoundTripper) *Transport {
	t.Helper()
	router, err := routerFor(specPath)
	if err != nil {
		t.Fatalf("appiotest: %v", err)
	}
	if base == nil {
		base = http.DefaultTransport
	}
	return &Transport{t: t, base: base, router: router}
}

// AllowInvalidRequests makes request violations be recorded (see
// RequestViolations) instead of failing the test, for tests that send bad
// requests on purpose. Response violations always fail the test.
func (tr *Transport) AllowInvalidRequests(allow bool) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.allowInvalid = allow
}

// RequestViolations returns the request violations recorded so far.
func (tr *Transport) RequestViolations() []error {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return append([]error(nil), tr.reqViolations...)
}

// Checked returns how many requests and responses were validated.
func (tr *Transport) Checked() (requests, responses int) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.requests, tr.responses
}

// Client returns an *http.Client that uses tr.
func (tr *Transport) Client() *http.Client { return &http.Client{Transport: tr} }

// RoundTrip validates req, sends it with the base transport and validates
// the response.
func (tr *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
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

	// Route a copy addressed to the spec's server.
	routed := req.Clone(context.Background())
	routed.URL.Scheme, routed.URL.Host, routed.Host = "https", specHost, specHost
	routed.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := tr.router.FindRoute(routed)
	if err != nil {
		tr.reqViolation(fmt.Errorf("%s %s: no operation in the spec: %w", req.Method, req.URL.Path, err))
		return tr.base.RoundTrip(req)
	}
	in := &openapi3filter.RequestValidationInput{
		Request:    routed,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			MultiError: true,
			AuthenticationFunc: func(_ context.Context, ai *openapi3filter.AuthenticationInput) error {
				name := ai.SecurityScheme.Name
				if ai.SecurityScheme.In == "header" && routed.Header.Get(name) == "" {
					return fmt.Errorf("missing header %s", name)
				}
				return nil
			},
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		tr.reqViolation(fmt.Errorf("%s %s (%s): %w", req.Method, req.URL.Path, route.Operation.OperationID, err))
	}
	tr.mu.Lock()
	tr.requests++
	tr.mu.Unlock()

	resp, err := tr.base.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	respBody, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if rerr != nil {
		// A broken body is the transport's business; hand it on unvalidated.
		resp.Body = io.NopCloser(io.MultiReader(bytes.NewReader(respBody), errReader{rerr}))
		return resp, nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(respBody)),
		Options:                &openapi3filter.Options{MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		tr.t.Errorf("appiotest: response to %s %s (%s) violates the spec: %v\nbody: %s",
			req.Method, req.URL.Path, route.Operation.OperationID, err, truncate(respBody))
	}
	tr.mu.Lock()
	tr.responses++
	tr.mu.Unlock()
	return resp, nil
}

func (tr *Transport) reqViolation(err error) {
	tr.mu.Lock()
	tr.reqViolations = append(tr.reqViolations, err)
	allow := tr.allowInvalid
	tr.mu.Unlock()
	if !allow {
		tr.t.Errorf("appiotest: request violates the spec: %v", err)
	}
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return strings.ToValidUTF8(s, "?")
}
