package legacy

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
)

// Statuses written back to a legacy system.
const (
	StatusPublished = "published" // the debt position exists on pagoPA
	StatusNotified  = "notified"  // the citizen was told (App IO or e-mail)
	StatusPaid      = "paid"      // a receipt arrived
	StatusFailed    = "failed"    // the record could not be processed
	StatusCancelled = "cancelled" // the position was withdrawn
)

// StatusUpdate is what Ponte tells the legacy system about one of its records, keyed by
// the record's ExternalID. Writing the same update twice is harmless: sinks overwrite.
type StatusUpdate struct {
	ExternalID string `json:"externalId"`
	// Key is the record's key (Debtor.Key) for a record without an
	// ExternalID: a sink that WritesByKey finds the row by it.
	Key             string `json:"-"` // not sent: HTTP sinks address records by ExternalID
	Status          string `json:"status"`
	IUPD            string `json:"iupd,omitempty"`
	NAV             string `json:"nav,omitempty"`
	IUV             string `json:"iuv,omitempty"`
	PaidDate        string `json:"paidDate,omitempty"` // YYYY-MM-DD
	AmountPaidCents int64  `json:"amountPaidCents,omitempty"`
	Message         string `json:"message,omitempty"`
}

// Validate checks the fields every sink relies on.
func (u StatusUpdate) Validate() error {
	if u.ExternalID == "" && u.Key == "" {
		return fmt.Errorf("legacy: status update without externalId or key")
	}
	switch u.Status {
	case StatusPublished, StatusNotified, StatusPaid, StatusFailed, StatusCancelled:
	default:
		return fmt.Errorf("legacy: status update %s: unknown status %q", u.ID(), u.Status)
	}
	if u.PaidDate != "" {
		if _, err := ParseDate(u.PaidDate, DateISO); err != nil {
			return fmt.Errorf("legacy: status update %s: paidDate: %w", u.ID(), err)
		}
	}
	return nil
}

// validateWithID is Validate for sinks that address records by
// ExternalID only (REST, SOAP): a key is not enough for them.
func (u StatusUpdate) validateWithID() error {
	if u.ExternalID == "" {
		return fmt.Errorf("legacy: status update for record %s: this sink finds records by externalId, and the record has none", u.Key)
	}
	return u.Validate()
}

// ID is how the update names its record: the ExternalID, or the Key when
// there is none. WriteError.Failed is keyed by it.
func (u StatusUpdate) ID() string {
	if u.ExternalID != "" {
		return u.ExternalID
	}
	return u.Key
}

// KeyedSink is a sink that can find a record by its key (StatusUpdate.Key)
// when the record has no ExternalID.
type KeyedSink interface {
	DebtorSink
	WritesByKey() bool
}

// DebtorSink writes statuses back to a legacy system.
type DebtorSink interface {
	// Name identifies the sink in logs.
	Name() string
	// WriteStatus writes a batch. SQL sinks write it in one transaction (all or none);
	// HTTP sinks write one request per update and return a *WriteError naming the
	// updates that failed. Retrying a whole batch is always safe.
	WriteStatus(ctx context.Context, updates []StatusUpdate) error
}

// WriteError lists the updates of a batch that were not written.
type WriteError struct {
	Sink   string
	Failed map[string]error // by StatusUpdate.ID
}

func (e *WriteError) Error() string {
	ids := make([]string, 0, len(e.Failed))
	for id := range e.Failed {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	parts := make([]string, 0, len(ids))
	for i, id := range ids {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("… and %d more", len(ids)-5))
			break
		}
		parts = append(parts, id+": "+e.Failed[id].Error())
	}
	return fmt.Sprintf("legacy: %s: %d update(s) not written: %s", e.Sink, len(ids), strings.Join(parts, "; "))
}

// Unwrap returns the errors of the failed updates.
func (e *WriteError) Unwrap() []error {
	out := make([]error, 0, len(e.Failed))
	for _, err := range e.Failed {
		out = append(out, err)
	}
	return out
}

// Failure classifies the batch: Retryable when any failed update may pass on
// a later try (retrying a whole batch is always safe), Permanent otherwise.
func (e *WriteError) Failure() failure.Info {
	for _, err := range e.Failed {
		if failure.IsRetryable(err) {
			return failure.Info{Class: failure.Retryable}
		}
	}
	return failure.Info{Class: failure.Permanent}
}

// SinkFactory builds a sink from its JSON config; relative paths resolve against baseDir.
type SinkFactory func(cfg json.RawMessage, baseDir string) (DebtorSink, error)

// Sinks are the registered sink kinds (sql, rest, soap): a kind that is
// both a source and a sink uses the same config and schema for both.
var Sinks = registry.New[DebtorSink]("sink")

// RegisterSink makes a sink kind available. A kind that is both a source and a sink
// (sql, rest, soap) uses the same config and schema for both: the write-back part of the
// config is what the sink needs. Like RegisterSource it panics on programming errors.
func RegisterSink(kind, schemaName string, f SinkFactory) {
	if f == nil {
		panic("legacy: RegisterSink with a nil factory")
	}
	Sinks.Register(registry.Kind[DebtorSink]{Name: kind, Schema: schemaName,
		Open: func(cfg json.RawMessage, env registry.Env) (DebtorSink, error) { return f(cfg, env.Dir) }})
}

// SinkKinds lists the registered sink kinds, sorted.
func SinkKinds() []string { return Sinks.Kinds() }

// OpenSink validates cfg against the kind's schema and builds the sink; an unknown kind
// is an *UnknownKindError, schema violations a *schemas.ValidationError.
func OpenSink(kind string, cfg json.RawMessage, baseDir string) (DebtorSink, error) {
	return Sinks.Open(kind, cfg, registry.Env{Dir: baseDir})
}

// decodeStrict decodes a config rejecting unknown fields.
func decodeStrict(kind string, cfg json.RawMessage, v any) error {
	dec := json.NewDecoder(strings.NewReader(string(cfg)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("legacy: %s config: %w", kind, err)
	}
	return nil
}

// Previewer is implemented by sources whose Read has side effects (the inbox moves the
// files it read): Preview returns a source that reads the same records and changes
// nothing, for checks such as `ponte source check`.
type Previewer interface {
	Preview() DebtorSource
}

// ForPreview returns src.Preview() when src has side effects, else src.
func ForPreview(src DebtorSource) DebtorSource {
	if p, ok := src.(Previewer); ok {
		return p.Preview()
	}
	return src
}
