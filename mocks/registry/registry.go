// Package registry is where every kind of mock registers itself — its name,
// its ports, how to start it, what to print about it and the sample
// tenant's template variables it provides — so that `ponte mocks`, the demo
// and tests (through mockset) start whatever is registered, and adding a
// mock touches its own package only.
package registry

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/schemas/contracts"
)

// Port is one port a mock listens on, as `ponte mocks` offers it.
type Port struct {
	// Flag is the `ponte mocks` flag, e.g. "gpd-port"; it also keys the
	// ports a caller chooses (mockset.Options.Ports).
	Flag string
	// Default is the port `ponte mocks` uses (0 in tests: a free port).
	Default int
	Usage   string
}

// Kind is a kind of mock.
type Kind struct {
	// Name identifies the kind, e.g. "gpd"; it keys its configuration
	// (mockset.Options.Config) and its running mock.
	Name string
	// Order sorts kinds for starting and printing, lowest first.
	Order int
	// Needs names kinds that must be running before this one starts
	// (the Nodo simulator pays on the GPD mock).
	Needs []string
	// Ports are the ports it listens on; Start gets one address each.
	Ports []Port
	// Start starts the mock on addrs (host:port, port 0 = a free one).
	// It serves its HTTP handler through Env.Handler.
	Start func(env *Env, addrs []string) (*Running, error)
	// Contract returns the official contract the mock's HTTP API answers
	// by, nil when it has none; a recording judges every call by it
	// (mocks/record).
	Contract func() *contracts.Validator
	// Uncovered, when set, says why a request is outside Contract — part
	// of another API of the same mock whose contract is not embedded —
	// and "" for the requests Contract judges.
	Uncovered func(r *http.Request) string
}

// Running is a started mock.
type Running struct {
	// Mock is the mock itself (*gpd.Server, *smtpmock.Server, …).
	Mock any
	// URL is what clients use: a base URL, or host:port for SMTP.
	URL string
	// Control is the base URL of its /__mock/ API (/__mock/faults on
	// every mock).
	Control string
	// Title and Details are what `ponte mocks` prints about it:
	// "<Title>  <URL>  <Details>".
	Title, Details string
	// Vars are template variables of the sample tenant
	// (tenant.WriteSample), e.g. {"GPDURL": URL}.
	Vars map[string]string
	// Close stops it.
	Close func() error
}

// Env is what a starting mock may use.
type Env struct {
	// Logger receives the mocks' own logs; never nil.
	Logger *slog.Logger
	// Wrap, when set, wraps the HTTP handler of every mock (see Handler):
	// `ponte mocks --record` records every call through it.
	Wrap    func(k Kind, h http.Handler) http.Handler
	config  map[string]any
	running map[string]*Running
}

// NewEnv returns an environment with the callers' configuration by kind
// name (each mock's own Options type) and logger (nil discards).
func NewEnv(config map[string]any, logger *slog.Logger) *Env {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Env{Logger: logger, config: config, running: map[string]*Running{}}
}

// Handler is what a mock of kind name serves in place of its own handler
// h: h wrapped by Wrap when one is set.
func (e *Env) Handler(name string, h http.Handler) http.Handler {
	if e.Wrap == nil {
		return h
	}
	mu.Lock()
	k, ok := kinds[name]
	mu.Unlock()
	if !ok {
		k = Kind{Name: name}
	}
	return e.Wrap(k, h)
}

// Running returns the running mock of kind name, or nil.
func (e *Env) Running(name string) *Running { return e.running[name] }

// SetRunning records a started mock.
func (e *Env) SetRunning(name string, r *Running) { e.running[name] = r }

// Config returns the configuration given for kind name as T: the zero T
// when none was given, an error when it is not a T.
func Config[T any](e *Env, name string) (T, error) {
	var zero T
	v, ok := e.config[name]
	if !ok || v == nil {
		return zero, nil
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("mock %s: configuration is a %T, want a %T", name, v, zero)
	}
	return t, nil
}

var (
	mu    sync.Mutex
	kinds = map[string]Kind{}
)

// Register adds a kind; it panics on a second kind with the same name or
// port flag (a programming error, found by any test that starts mocks).
func Register(k Kind) {
	mu.Lock()
	defer mu.Unlock()
	if k.Name == "" || k.Start == nil || len(k.Ports) == 0 {
		panic("registry: a kind needs a name, a port and Start")
	}
	if _, dup := kinds[k.Name]; dup {
		panic("registry: kind " + k.Name + " registered twice")
	}
	for _, other := range kinds {
		for _, p := range other.Ports {
			for _, q := range k.Ports {
				if p.Flag == q.Flag {
					panic(fmt.Sprintf("registry: port flag %s of %s is taken by %s", q.Flag, k.Name, other.Name))
				}
			}
		}
	}
	kinds[k.Name] = k
}

// Kinds returns the registered kinds in start order: by Order, then name;
// a kind comes after those it Needs.
func Kinds() ([]Kind, error) {
	mu.Lock()
	all := make([]Kind, 0, len(kinds))
	for _, k := range kinds {
		all = append(all, k)
	}
	mu.Unlock()
	slices.SortFunc(all, func(a, b Kind) int { return cmp.Or(cmp.Compare(a.Order, b.Order), cmp.Compare(a.Name, b.Name)) })
	var out []Kind
	placed := map[string]bool{}
	for len(out) < len(all) {
		progress := false
		for _, k := range all {
			if placed[k.Name] {
				continue
			}
			ready := true
			for _, n := range k.Needs {
				if _, ok := kinds[n]; !ok {
					return nil, fmt.Errorf("registry: %s needs %s, which is not registered", k.Name, n)
				}
				ready = ready && placed[n]
			}
			if ready {
				out = append(out, k)
				placed[k.Name] = true
				progress = true
				break
			}
		}
		if !progress {
			return nil, errors.New("registry: the kinds' needs form a cycle")
		}
	}
	return out, nil
}

// Listen listens on addr and returns the listener and its http:// URL.
func Listen(addr string) (net.Listener, string, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", err
	}
	return l, "http://" + l.Addr().String(), nil
}

// Serve serves h on l until the returned function stops it: it lets
// requests in flight finish for up to two seconds, then cuts them.
func Serve(l net.Listener, h http.Handler) func() error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		// Serve returns when the server is stopped; nothing is left to report.
		_ = srv.Serve(l)
	}()
	return func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); errors.Is(err, context.DeadlineExceeded) {
			return srv.Close()
		} else if err != nil {
			return err
		}
		return nil
	}
}

// ServeHTTP listens on addr and serves h: the common case of a mock that
// is an http.Handler.
func ServeHTTP(addr string, h http.Handler) (url string, stop func() error, err error) {
	l, url, err := Listen(addr)
	if err != nil {
		return "", nil, err
	}
	return url, Serve(l, h), nil
}

// HandlerKind is the Kind of the common mock: an http.Handler that build
// makes from its configuration O (the zero O when none is given), served
// on one port. describe says what the running mock offers, given its URL;
// URL and Control default to it.
func HandlerKind[O any](name string, order int, port Port, build func(env *Env, o O) http.Handler, describe func(url string) Running) Kind {
	return Kind{Name: name, Order: order, Ports: []Port{port},
		Start: func(env *Env, addrs []string) (*Running, error) {
			o, err := Config[O](env, name)
			if err != nil {
				return nil, err
			}
			h := build(env, o)
			url, stop, err := ServeHTTP(addrs[0], env.Handler(name, h))
			if err != nil {
				return nil, err
			}
			r := describe(url)
			r.Mock, r.Close = h, stop
			r.URL, r.Control = cmp.Or(r.URL, url), cmp.Or(r.Control, url)
			return &r, nil
		}}
}
