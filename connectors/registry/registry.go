// Package registry is the one registration mechanism of Ponte's connector
// kinds: legacy sources and sinks, channels that reach people (email, SMS,
// webhooks…) and the national platforms' clients. A kind registers itself
// from its own package — a name, the JSON Schema of its config kept beside
// its code (package schemas), an optional check that a schema cannot
// express, and a constructor — and tenant configs name kinds. The tenant
// loader validates every kind's config with the same errors it gives
// everywhere (file, line, pointer, rule, fix); the runtime opens them.
// Adding a kind touches its own package and nothing else.
package registry

import (
	"cmp"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/ponte-pa/ponte/schemas"
)

// Env is what a kind needs to open: where relative paths in its config
// resolve, how secret references ("env:NAME", "file:path") resolve, and the
// worker's shared HTTP client.
type Env struct {
	// Dir is the directory of the tenant config file.
	Dir string
	// Secret resolves a secret reference; never log what it returns.
	Secret func(ref string) (string, error)
	// HTTP is shared by the clients of one worker (nil: a default client).
	HTTP *http.Client
	// Logger for the connector (nil: discard).
	Logger *slog.Logger
}

// Log is e.Logger, or a logger that discards.
func (e Env) Log() *slog.Logger {
	if e.Logger != nil {
		return e.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// Problem is one thing wrong in a kind's config that its schema cannot
// express (a file that does not exist, a certificate that does not parse);
// Pointer is relative to the kind's config object.
type Problem = schemas.Problem

// Kind is one registered connector kind producing values of type T.
type Kind[T any] struct {
	// Name is what configs write in "kind", e.g. "email", "csv".
	Name string
	// Doc says in one line what the kind is, for --help and errors.
	Doc string
	// Schema names the JSON Schema (package schemas) the config must
	// satisfy; register it with schemas.Register beside the code.
	Schema string
	// Check, optional, finds what the schema cannot (files, certificates).
	// It runs at tenant load, after the schema passed; it must not use the
	// network.
	Check func(cfg json.RawMessage, env Env) []Problem
	// Open builds the connector from a config that passed Schema and Check.
	Open func(cfg json.RawMessage, env Env) (T, error)
	// At, for a kind configured at a fixed place of the tenant config
	// rather than in a list (the national platforms: /pagopa/gpd, /appio),
	// is the JSON pointer of its config there.
	At string
}

// Platforms are the clients of the national platforms (pagoPA GPD, App
// IO), each configured at its place in the tenant config (Kind.At). Open
// returns the platform package's own client type.
var Platforms = New[any]("platform")

// Registry holds the kinds of one role (sources, sinks, channels…).
type Registry[T any] struct {
	role  string
	mu    sync.RWMutex
	kinds map[string]Kind[T]
}

// New returns an empty registry; role names it in errors ("source kind").
func New[T any](role string) *Registry[T] {
	return &Registry[T]{role: role, kinds: map[string]Kind[T]{}}
}

// Register adds a kind. It is meant for init functions and panics on an
// empty name, a nil Open or a name registered twice: programming errors.
func (r *Registry[T]) Register(k Kind[T]) {
	if k.Name == "" || k.Open == nil {
		panic("registry: " + r.role + " kind with an empty name or no Open")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[k.Name]; dup {
		panic("registry: " + r.role + " kind registered twice: " + k.Name)
	}
	r.kinds[k.Name] = k
}

// Kinds lists the registered kind names, sorted.
func (r *Registry[T]) Kinds() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// UnknownKindError is a kind nobody registered.
type UnknownKindError struct {
	Role, Kind string
	Known      []string
}

func (e *UnknownKindError) Error() string {
	return fmt.Sprintf("unknown %s kind %q (known kinds: %s)", e.Role, e.Kind, strings.Join(e.Known, ", "))
}

// Lookup finds a kind, or returns an *UnknownKindError.
func (r *Registry[T]) Lookup(name string) (Kind[T], error) {
	r.mu.RLock()
	k, ok := r.kinds[name]
	r.mu.RUnlock()
	if !ok {
		return k, &UnknownKindError{Role: r.role, Kind: name, Known: r.Kinds()}
	}
	return k, nil
}

// Validate checks cfg against the kind's schema and its Check. It returns
// the problems found (pointers relative to cfg), or an error when the kind
// is unknown or cfg is not JSON.
func (r *Registry[T]) Validate(name string, cfg json.RawMessage, env Env) ([]Problem, error) {
	k, err := r.Lookup(name)
	if err != nil {
		return nil, err
	}
	if k.Schema != "" {
		var doc any
		if err := json.Unmarshal(cfg, &doc); err != nil {
			return nil, fmt.Errorf("%s %s config: %w", r.role, name, err)
		}
		if err := schemas.Validate(k.Schema, doc); err != nil {
			if ve, ok := err.(*schemas.ValidationError); ok {
				return ve.Problems, nil
			}
			return nil, err
		}
	}
	if k.Check != nil {
		return k.Check(cfg, env), nil
	}
	return nil, nil
}

// Open validates cfg (Validate) and builds the connector. A config with
// problems comes back as a *schemas.ValidationError naming the kind's
// schema, an unknown kind as an *UnknownKindError.
func (r *Registry[T]) Open(name string, cfg json.RawMessage, env Env) (T, error) {
	var zero T
	probs, err := r.Validate(name, cfg, env)
	if err != nil {
		return zero, err
	}
	if len(probs) > 0 {
		k, _ := r.Lookup(name)
		return zero, &schemas.ValidationError{Schema: cmp.Or(k.Schema, r.role+" "+name), Problems: probs}
	}
	k, err := r.Lookup(name)
	if err != nil {
		return zero, err
	}
	return k.Open(cfg, env)
}
