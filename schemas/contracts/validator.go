package contracts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// ErrNoOperation is wrapped by the error of a request that matches no
// operation of the contract.
var ErrNoOperation = errors.New("no operation of the contract matches")

// Violation is a request or response that breaks the contract.
type Violation struct {
	Contract  string // file name, e.g. gpd-external-v1.json
	Operation string // operationId, "" when no operation matched
	Method    string
	Path      string
	// Status is the response status; 0 for a request violation.
	Status int
	Err    error
}

func (v *Violation) Error() string {
	what := "request"
	if v.Status != 0 {
		what = fmt.Sprintf("response %d", v.Status)
	}
	op := ""
	if v.Operation != "" {
		op = " (" + v.Operation + ")"
	}
	ps := v.Problems()
	msg := make([]string, len(ps))
	for i, p := range ps {
		msg[i] = p.String()
	}
	return fmt.Sprintf("%s %s%s: %s violates %s: %s", v.Method, v.Path, op, what, v.Contract, strings.Join(msg, "; "))
}

func (v *Violation) Unwrap() error { return v.Err }

// Validator judges HTTP requests and responses by one contract. It is
// safe for concurrent use; build it with New, or take the shared ones from
// GPD and AppIO.
type Validator struct {
	name    string
	doc     *openapi3.T
	router  routers.Router
	server  *url.URL // the contract's first server: requests are routed as if sent there
	mount   string
	formats map[string]openapi3.StringFormatValidator
	// statusMustBeDeclared makes an undeclared response status a violation.
	statusMustBeDeclared bool
}

// New loads the embedded contract name (see Load) and returns its
// validator. The mount point is the one the mocks use (see Mount).
func New(name string) (*Validator, error) {
	doc, err := Load(name)
	if err != nil {
		return nil, err
	}
	if len(doc.Servers) == 0 {
		return nil, fmt.Errorf("contracts: %s declares no server", name)
	}
	server, err := url.Parse(doc.Servers[0].URL)
	if err != nil {
		return nil, fmt.Errorf("contracts: %s: server URL: %w", name, err)
	}
	if name == GPDv1File || name == GPDv3File {
		// The GPD files say OpenAPI 3.1.0 but use no keyword of JSON Schema
		// 2020-12 (TestGPDUsesNoJSONSchema2020Keyword), so kin-openapi's 3.0
		// schema validator reaches the same verdicts; its 3.1 path compiles
		// every schema again on every request, 25 times slower, which a mock
		// judging each exchange cannot afford.
		doc.OpenAPI = "3.0.3"
	}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		return nil, fmt.Errorf("contracts: %s: router: %w", name, err)
	}
	v := &Validator{name: name, doc: doc, router: router, server: server}
	switch name {
	case GPDv1File, GPDv3File:
		v.formats = gpdFormats
		// Every GPD operation lists its answers (200/201, 4xx, 500): an
		// undeclared status is a mistake.
		v.statusMustBeDeclared = true
	case AppIOFile:
		v.formats = appIOFormats
		// The mock serves the API under the spec's basePath, like the
		// real host, and a client's base URL includes it.
		v.mount = server.Path
	}
	return v, nil
}

var (
	gpdOnce   = sync.OnceValues(func() (*Validator, error) { return New(GPDv1File) })
	appIOOnce = sync.OnceValues(func() (*Validator, error) { return New(AppIOFile) })
)

// GPD returns the shared validator of the GPD external API v1, mounted at
// "" (the mock serves /organizations/... at its root, and a client's base
// URL includes the service path). It panics if the embedded contract does
// not load, which the package's tests rule out.
func GPD() *Validator { return must(gpdOnce()) }

// AppIO returns the shared validator of the App IO Services API, mounted
// at "/api/v1" (the spec's basePath). It panics like GPD.
func AppIO() *Validator { return must(appIOOnce()) }

func must(v *Validator, err error) *Validator {
	if err != nil {
		panic(err)
	}
	return v
}

// Name is the contract's file name.
func (v *Validator) Name() string { return v.name }

// Doc is the loaded document; it is shared: do not modify it.
func (v *Validator) Doc() *openapi3.T { return v.doc }

// Mount is the path prefix that the requests this validator sees carry
// before the contract's paths.
func (v *Validator) Mount() string { return v.mount }

// WithMount returns a copy of v for requests that carry the contract's
// paths after prefix mount.
func (v *Validator) WithMount(mount string) *Validator {
	c := *v
	c.mount = strings.TrimRight(mount, "/")
	return &c
}

func (v *Validator) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		// The security schemes of both contracts are API keys in a
		// header: a request without the header breaks the contract.
		AuthenticationFunc: func(_ context.Context, in *openapi3filter.AuthenticationInput) error {
			s := in.SecurityScheme
			if s.Type == "apiKey" && s.In == "header" && in.RequestValidationInput.Request.Header.Get(s.Name) == "" {
				return fmt.Errorf("missing header %s", s.Name)
			}
			return nil
		},
		// Validation must not rewrite what it judges.
		SkipSettingDefaults:     true,
		IncludeResponseStatus:   v.statusMustBeDeclared,
		MultiError:              true,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.WithStringFormatValidators(v.formats)},
	}
}

// Exchange is a request that matched an operation of the contract, kept
// to validate its response.
type Exchange struct {
	v      *Validator
	in     *openapi3filter.RequestValidationInput
	method string
	path   string
}

// Operation is the operationId of the matched operation.
func (x *Exchange) Operation() string { return x.in.Route.Operation.OperationID }

// Request validates r, whose body (already read) is body; r may be aimed
// at any host, only its path below the mount point matters. It returns the
// exchange, to validate the response with, and a *Violation when the
// request breaks the contract. A request that matches no operation gives a
// nil exchange and a *Violation wrapping ErrNoOperation.
func (v *Validator) Request(r *http.Request, body []byte) (*Exchange, error) {
	routed := r.Clone(context.Background())
	u := *r.URL
	u.Scheme, u.Host = v.server.Scheme, v.server.Host
	rest := strings.TrimPrefix(r.URL.Path, v.mount)
	u.Path = v.server.Path + rest
	u.RawPath = ""
	if r.URL.RawPath != "" {
		u.RawPath = v.server.Path + strings.TrimPrefix(r.URL.RawPath, v.mount)
	}
	routed.URL, routed.Host = &u, u.Host
	routed.Body = io.NopCloser(bytes.NewReader(body))
	viol := &Violation{Contract: v.name, Method: r.Method, Path: r.URL.Path}
	if !strings.HasPrefix(r.URL.Path, v.mount) {
		viol.Err = fmt.Errorf("%w: the path is not below %s", ErrNoOperation, v.mount)
		return nil, viol
	}
	route, params, err := v.router.FindRoute(routed)
	if err != nil {
		viol.Err = fmt.Errorf("%w: %v", ErrNoOperation, err)
		return nil, viol
	}
	x := &Exchange{v: v, method: r.Method, path: r.URL.Path,
		in: &openapi3filter.RequestValidationInput{Request: routed, PathParams: params, Route: route, Options: v.options()}}
	viol.Operation = x.Operation()
	if err := openapi3filter.ValidateRequest(context.Background(), x.in); err != nil {
		viol.Err = err
		return x, viol
	}
	return x, nil
}

// Response validates the answer to the exchange's request; it returns a
// *Violation when the answer breaks the contract.
func (x *Exchange) Response(status int, header http.Header, body []byte) error {
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: x.in,
		Status:                 status,
		Header:                 header,
		Options:                x.in.Options,
	}
	out.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		return &Violation{Contract: x.v.name, Operation: x.Operation(), Method: x.method, Path: x.path, Status: status, Err: err}
	}
	return nil
}

// Check validates one whole exchange: the request with its body and, when
// resp is not nil, the response with its body.
func (v *Validator) Check(req *http.Request, reqBody []byte, resp *http.Response, respBody []byte) error {
	x, err := v.Request(req, reqBody)
	if err != nil {
		return err
	}
	if resp == nil {
		return nil
	}
	return x.Response(resp.StatusCode, resp.Header, respBody)
}
