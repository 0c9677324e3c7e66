// Package legacy holds the connectors that read from and write back to the systems a
// comune already runs — CSV and fixed-width exports, an inbox folder of such files, SQL
// databases (PostgreSQL, MySQL/MariaDB, SQLite), REST and SOAP services — turning their
// records into canonical Debtor records and writing statuses (published, notified, paid)
// back keyed by the record's ExternalID. A registry maps a tenant config "kind" to a
// constructor and a JSON Schema for sources (RegisterSource, OpenSource) and sinks
// (RegisterSink, OpenSink); every source runs the same Italian validators (codice
// fiscale, partita IVA, amounts, dates) and reports rejects in Italian and English.
package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/ponte-pa/ponte/schemas"
)

// Debtor is the canonical record every debtor source produces.
type Debtor struct {
	Line        int    // files: 1-based physical line where the record starts; SQL, REST, SOAP: 1-based record number
	ExternalID  string // id of the record in the legacy system (e.g. id_pratica)
	FiscalCode  string // normalized: upper case, 16 characters or 11 digits
	Name        string // first name; empty for legal persons
	Surname     string // surname, or company name for legal persons
	Email       string // optional
	AmountCents int64
	DueDate     string // YYYY-MM-DD
	Description string
}

// Reject is one source record that was not turned into a Debtor, and why.
type Reject struct {
	Source    string `json:"source"`
	Line      int    `json:"line"`
	Field     string `json:"field"`
	Value     string `json:"value"`
	Rule      string `json:"rule"`
	MessageIT string `json:"messageIt"`
	MessageEN string `json:"messageEn"`
}

// Stats counts what a Read did. Read == Valid + Rejected always.
type Stats struct {
	Read     int // records read (header excluded)
	Valid    int // records emitted
	Rejected int // records rejected
}

// DebtorSource streams debtors from a legacy system.
type DebtorSource interface {
	// Name identifies the source in rejects and logs.
	Name() string
	// Read streams every record: each one goes to exactly one of emit or reject, both
	// required. An error from emit or reject, a cancelled ctx, or a failure to read
	// the source at all stops the read and is returned with the stats so far.
	Read(ctx context.Context, emit func(Debtor) error, reject func(Reject) error) (Stats, error)
}

// SourceFactory builds a source from its JSON config; relative paths resolve against
// baseDir (the directory of the tenant config file).
type SourceFactory func(cfg json.RawMessage, baseDir string) (DebtorSource, error)

type registration struct {
	schema  string
	factory SourceFactory
}

var (
	regMu    sync.RWMutex
	registry = map[string]registration{}
)

// RegisterSource makes a source kind available to tenant configs. schemaName names the
// embedded schema (package schemas) its config must satisfy. It is meant for init
// functions and panics on an empty kind, a nil factory or a duplicate kind, which are
// programming errors.
func RegisterSource(kind, schemaName string, f SourceFactory) {
	if kind == "" || f == nil {
		panic("legacy: RegisterSource with empty kind or nil factory")
	}
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[kind]; dup {
		panic("legacy: source kind registered twice: " + kind)
	}
	registry[kind] = registration{schema: schemaName, factory: f}
}

// ConfigSchema returns the schema name for a source kind's config.
func ConfigSchema(kind string) (string, bool) {
	regMu.RLock()
	defer regMu.RUnlock()
	r, ok := registry[kind]
	return r.schema, ok
}

// Kinds lists the registered source kinds, sorted.
func Kinds() []string {
	regMu.RLock()
	defer regMu.RUnlock()
	out := make([]string, 0, len(registry))
	for k := range registry {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// UnknownKindError is returned by OpenSource for a kind nobody registered.
type UnknownKindError struct {
	Kind  string
	Known []string
}

func (e *UnknownKindError) Error() string {
	return fmt.Sprintf("legacy: unknown source kind %q (known kinds: %s)", e.Kind, strings.Join(e.Known, ", "))
}

// OpenSource validates cfg against the kind's schema and builds the source. Schema
// violations come back as *schemas.ValidationError, an unknown kind as
// *UnknownKindError.
func OpenSource(kind string, cfg json.RawMessage, baseDir string) (DebtorSource, error) {
	regMu.RLock()
	r, ok := registry[kind]
	regMu.RUnlock()
	if !ok {
		return nil, &UnknownKindError{Kind: kind, Known: Kinds()}
	}
	if r.schema != "" {
		var doc any
		if err := json.Unmarshal(cfg, &doc); err != nil {
			return nil, fmt.Errorf("legacy: %s config: %w", kind, err)
		}
		if err := schemas.Validate(r.schema, doc); err != nil {
			return nil, err
		}
	}
	return r.factory(cfg, baseDir)
}

// errNoReject is returned by Read when the caller passes no reject callback: rejected
// rows must go somewhere, never silently dropped.
var errNoReject = errors.New("legacy: Read needs both emit and reject callbacks")
