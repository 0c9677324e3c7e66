// Package legacy holds the connectors that read from and write back to the systems a
// comune already runs — CSV and fixed-width exports, an inbox folder of such files, SQL
// databases (PostgreSQL, MySQL/MariaDB, SQLite), REST and SOAP services — turning their
// records into canonical Debtor records and writing statuses (published, notified, paid)
// back keyed by the record's ExternalID. A registry maps a tenant config "kind" to a
// constructor and a JSON Schema for sources (RegisterSource, OpenSource) and sinks
// (RegisterSink, OpenSink); every source runs the same Italian validators (codice
// fiscale, partita IVA, amounts, dates) and reports rejects in Italian and English.
// People sources (the People registry: csv, sql) read, with the same machinery, the
// people alerts and information campaigns reach as Person records.
package legacy

import (
	"context"
	"encoding/json"
	"errors"
	"sync"

	"github.com/ponte-pa/ponte/connectors/registry"
)

// Debtor is the canonical record every debtor source produces.
type Debtor struct {
	Line       int    // files: 1-based physical line where the record starts; SQL, REST, SOAP: 1-based record number
	ExternalID string // id of the record in the legacy system (e.g. id_pratica); optional
	// Key identifies the record in reports and write-back: ExternalID when the source
	// has one; else the SQL key columns (col=value, …); else the source's identity
	// fields joined by "|"; else its position, "<source>:<line>".
	Key         string
	FiscalCode  string // normalized: upper case, 16 characters or 11 digits
	Name        string // first name; empty for legal persons
	Surname     string // surname, or company name for legal persons
	Email       string // optional
	AmountCents int64
	DueDate     string // YYYY-MM-DD
	Description string
	IBAN        string // optional, normalised (upper case, no spaces)
	Phone       string // optional, E.164 (+39…)
	CAP         string // optional, the address's postal code (5 digits)
	ISTAT       string // optional, the address's comune by ISTAT code (6 digits)
	Cadastral   string // optional, the address's comune by cadastral code (e.g. H501)
	// Warnings are things a person should look at; the record is still valid.
	Warnings []Warning
}

// Reject is one source record that was not turned into a Debtor, and why.
type Reject struct {
	Source string `json:"source"`
	Line   int    `json:"line"`
	// Key is the record's key in its system when the source knows one (SQL key
	// columns, identity fields), so that a rejected row can be found there.
	Key       string `json:"key,omitempty"`
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

// Sources are the registered source kinds (package registry): csv,
// fixedwidth, inbox, sql, rest, soap. Each kind registers itself from its
// file with its config schema.
var Sources = registry.New[DebtorSource]("source")

var secretMu sync.RWMutex // guards secretResolver

// RegisterSource makes a source kind available to tenant configs. schemaName names the
// schema (package schemas) its config must satisfy. It is meant for init
// functions and panics on an empty kind, a nil factory or a duplicate kind, which are
// programming errors.
func RegisterSource(kind, schemaName string, f SourceFactory) {
	if f == nil {
		panic("legacy: RegisterSource with a nil factory")
	}
	Sources.Register(registry.Kind[DebtorSource]{Name: kind, Schema: schemaName,
		Open: func(cfg json.RawMessage, env registry.Env) (DebtorSource, error) { return f(cfg, env.Dir) }})
}

// ConfigSchema returns the schema name for a source kind's config.
func ConfigSchema(kind string) (string, bool) {
	k, err := Sources.Lookup(kind)
	return k.Schema, err == nil
}

// Kinds lists the registered source kinds, sorted.
func Kinds() []string { return Sources.Kinds() }

// UnknownKindError is returned by OpenSource and OpenSink for a kind nobody
// registered.
type UnknownKindError = registry.UnknownKindError

// OpenSource validates cfg against the kind's schema and builds the source. Schema
// violations come back as *schemas.ValidationError, an unknown kind as
// *UnknownKindError.
func OpenSource(kind string, cfg json.RawMessage, baseDir string) (DebtorSource, error) {
	return Sources.Open(kind, cfg, registry.Env{Dir: baseDir})
}

// errNoReject is returned by Read when the caller passes no reject callback: rejected
// rows must go somewhere, never silently dropped.
var errNoReject = errors.New("legacy: Read needs both emit and reject callbacks")
