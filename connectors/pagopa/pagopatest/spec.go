// Package pagopatest holds test helpers for code that talks GPD: a validator
// that checks every HTTP request and response against the official GPD v1
// OpenAPI contract, usable as an http.RoundTripper.
package pagopatest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// SpecServer is the server URL of the spec that requests are matched against.
const SpecServer = "https://api.uat.platform.pagopa.it/gpd/debt-positions-service/v1"

// Validator checks requests and responses against an OpenAPI document.
type Validator struct {
	doc    *openapi3.T
	router routers.Router
}

// LoadSpec loads the GPD OpenAPI file at path (no external refs) and works
// around its upstream quirks: string-typed boolean defaults, and the path
// pattern [\w*\h-]+ whose \h (horizontal space) RE2 rejects; it becomes [\w* \t-]+.
func LoadSpec(path string) (*Validator, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	for _, item := range doc.Paths.Map() {
		fix := func(ps openapi3.Parameters) {
			for _, p := range ps {
				if p.Value != nil && p.Value.Schema != nil && p.Value.Schema.Value != nil {
					s := p.Value.Schema.Value
					s.Pattern = strings.ReplaceAll(s.Pattern, `\h`, ` \t`)
				}
			}
		}
		fix(item.Parameters)
		for _, op := range item.Operations() {
			fix(op.Parameters)
		}
	}
	ctx := context.Background()
	if err := doc.Validate(ctx,
		openapi3.DisableSchemaDefaultsValidation(),
		openapi3.DisableSchemaPatternValidation(),
		openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("validate %s: %w", path, err)
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, err
	}
	return &Validator{doc: doc, router: router}, nil
}

// Doc returns the loaded document.
func (v *Validator) Doc() *openapi3.T { return v.doc }

func (v *Validator) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		SkipSettingDefaults:   true,
		IncludeResponseStatus: true,
		MultiError:            true,
	}
}

// Check validates one exchange: the request (with its body reqBody) and, when
// resp is not nil, the response with body respBody. The request may be aimed
// at any host: only its path below the mount point is matched.
func (v *Validator) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	ctx := context.Background()
	r := req.Clone(ctx)
	u := *req.URL
	u.Scheme, u.Host = "https", "api.uat.platform.pagopa.it"
	u.Path = "/gpd/debt-positions-service/v1" + req.URL.Path
	u.RawPath = ""
	if req.URL.RawPath != "" {
		u.RawPath = "/gpd/debt-positions-service/v1" + req.URL.RawPath
	}
	r.URL, r.Host = &u, u.Host
	r.Body = io.NopCloser(bytes.NewReader(reqBody))
	route, params, err := v.router.FindRoute(r)
	if err != nil {
		return fmt.Errorf("%s %s: no route in the spec: %w", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: v.options()}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return fmt.Errorf("%s %s: request violates the spec: %w", req.Method, req.URL.Path, err)
	}
	if resp == nil {
		return nil
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Options:                v.options(),
	}
	out.SetBodyBytes(respBody)
	if err := openapi3filter.ValidateResponse(ctx, out); err != nil {
		return fmt.Errorf("%s %s -> %d: response violates the spec: %w\nbody: %s", req.Method, req.URL.Path, resp.StatusCode, err, truncate(respBody))
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// Transport is an http.RoundTripper that validates every exchange it carries
// and reports violations with T.Errorf. Paths under /__mock/ are not checked,
// nor the GPD receipts API under /payments/, whose contract is not among the
// copied specs (see shared/specs/README.md, "Not included").
type Transport struct {
	T         testing.TB
	Validator *Validator
	Base      http.RoundTripper // nil means http.DefaultTransport

	mu      sync.Mutex
	checked int
}

// NewTransport loads the spec at specPath (failing the test if it cannot) and
// returns a validating transport.
func NewTransport(t testing.TB, specPath string) *Transport {
	t.Helper()
	v, err := LoadSpec(specPath)
	if err != nil {
		t.Fatalf("pagopatest: %v", err)
	}
	return &Transport{T: t, Validator: v}
}

// Checked returns how many exchanges (with a response) were validated.
func (t *Transport) Checked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.checked
}

// RoundTrip sends req through Base and validates request and response.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := base.RoundTrip(req)
	if strings.HasPrefix(req.URL.Path, "/__mock/") || strings.HasPrefix(req.URL.Path, "/payments/") {
		return resp, err
	}
	if err != nil {
		// No answer (dropped connection): the request is still checked.
		if verr := t.Validator.Check(req, reqBody, nil, nil); verr != nil {
			t.T.Errorf("pagopatest: %v", verr)
		}
		return nil, err
	}
	respBody, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(respBody))
	if rerr != nil {
		return resp, nil
	}
	if verr := t.Validator.Check(req, reqBody, resp, respBody); verr != nil {
		t.T.Errorf("pagopatest: %v", verr)
	}
	t.mu.Lock()
	t.checked++
	t.mu.Unlock()
	return resp, nil
}

// Client returns an *http.Client using t.
func (t *Transport) Client() *http.Client { return &http.Client{Transport: t} }
