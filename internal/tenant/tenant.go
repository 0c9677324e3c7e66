// Package tenant loads and validates the configuration of one ente (a comune) served by
// Ponte — identity, pagoPA, App IO, legacy sources, SPID login — from YAML or JSON, reporting every
// problem with file, line, JSON pointer, rule and a hint.
package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	_ "github.com/ponte-pa/ponte/connectors/appio"  // platform-appio.schema.json, which tenant.schema.json refers to
	_ "github.com/ponte-pa/ponte/connectors/crm"    // the CRM kinds of reports.CRMs (rest, open311) that report routes name
	_ "github.com/ponte-pa/ponte/connectors/pagopa" // platform-gpd.schema.json

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
)

// SchemaName is the schema every tenant file is validated against.
const SchemaName = "tenant.schema.json"

// Tenant is one ente as configured.
type Tenant struct {
	ID               string            `json:"id"`
	Name             Localized         `json:"name"`
	IPACode          string            `json:"ipaCode"`
	FiscalCode       string            `json:"fiscalCode"`
	PagoPA           PagoPA            `json:"pagopa"`
	AppIO            AppIO             `json:"appio"`
	Sources          map[string]Source `json:"sources,omitempty"`
	People           map[string]Source `json:"people,omitempty"` // people sources for alerts and campaigns (legacy.People)
	CampaignDefaults CampaignDefaults  `json:"campaignDefaults"`
	Channels         []Channel         `json:"channels,omitempty"`
	SPID             *SPID             `json:"spid,omitempty"`
	Alerts           *Alerts           `json:"alerts,omitempty"`
	Reports          *Reports          `json:"reports,omitempty"`

	Dir  string `json:"-"` // absolute directory of the config file; relative paths resolve here
	File string `json:"-"` // the config file as passed to Load

	doc   any            // the file as decoded, for CheckOffline
	lines map[string]int // line of each JSON pointer (YAML files)
}

// Localized is a text per language.
type Localized struct {
	IT string `json:"it"`
	EN string `json:"en,omitempty"`
}

// PagoPA holds the ente's creditor settings.
type PagoPA struct {
	AuxDigit        int    `json:"auxDigit"`
	SegregationCode string `json:"segregationCode,omitempty"`
	ApplicationCode string `json:"applicationCode,omitempty"`
	StationID       string `json:"stationId,omitempty"`
	IBAN            string `json:"iban"`
	PostalIBAN      string `json:"postalIban,omitempty"`
	// PostalOwner and PostalAuthorization are printed on the Bollettino
	// Postale PA of the notices of an ente with a PostalIBAN.
	PostalOwner         string `json:"postalOwner,omitempty"`
	PostalAuthorization string `json:"postalAuthorization,omitempty"`
	CBILL               string `json:"cbill,omitempty"` // printed on payment notices
	GPD                 GPD    `json:"gpd"`
}

// GPD is access to the GPD debt-positions API.
type GPD struct {
	BaseURL         string `json:"baseURL"`
	SubscriptionKey Secret `json:"subscriptionKey"`
}

// AppIO is access to the App IO Services API.
type AppIO struct {
	BaseURL  string               `json:"baseURL"`
	Services map[string]IOService `json:"services"` // by purpose: payments, alerts, news
}

// IOService is one App IO service.
type IOService struct {
	ServiceID string `json:"serviceId"`
	Key       Secret `json:"key"`
}

// Source is a legacy source of debtors (under sources) or of people (under people);
// Config is validated by the schema of its Kind in the registry of its role.
type Source struct {
	Kind   string          `json:"kind"`
	Config json.RawMessage `json:"config"`
}

// Channel is one way to reach people besides App IO (email, SMS, a
// webhook…), listed in order of preference under channels. Config is the
// whole list item, kind included, validated at load by the kind's schema
// and check (channels.Kinds).
type Channel struct {
	Kind   string
	Config json.RawMessage
}

// UnmarshalJSON keeps the whole item as the channel's config.
func (c *Channel) UnmarshalJSON(b []byte) error {
	var k struct {
		Kind string `json:"kind"`
	}
	if err := json.Unmarshal(b, &k); err != nil {
		return err
	}
	c.Kind, c.Config = k.Kind, append(json.RawMessage(nil), b...)
	return nil
}

// MarshalJSON writes the channel's config.
func (c Channel) MarshalJSON() ([]byte, error) { return c.Config, nil }

// Env is what a connector kind of this tenant needs to open (package
// registry): the config's directory, where relative paths and file:
// secrets resolve, and the secret resolver.
func (t *Tenant) Env() registry.Env {
	return registry.Env{Dir: t.Dir, Secret: func(ref string) (string, error) { return NewSecret(ref, t.Dir).Resolve() }}
}

// Section is the part of the tenant's config at JSON pointer ptr (e.g.
// /pagopa/gpd), as JSON: the config of a kind configured at a fixed place
// (registry.Kind.At).
func (t *Tenant) Section(ptr string) (json.RawMessage, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, err
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	v, ok := schemas.Walk(doc, strings.Split(strings.TrimPrefix(ptr, "/"), "/"))
	if !ok || v == nil {
		return nil, fmt.Errorf("tenant %s: nothing configured at %s", t.ID, ptr)
	}
	return json.Marshal(v)
}

// OpenPlatform opens the client of a national platform (registry.Platforms:
// gpd, appio) from the tenant's config at the kind's place.
func (t *Tenant) OpenPlatform(kind string, env registry.Env) (any, error) {
	k, err := registry.Platforms.Lookup(kind)
	if err != nil {
		return nil, err
	}
	cfg, err := t.Section(k.At)
	if err != nil {
		return nil, err
	}
	p, err := registry.Platforms.Open(kind, cfg, env)
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %s: %w", t.ID, strings.TrimPrefix(k.At, "/"), err)
	}
	return p, nil
}

// OpenChannels opens the tenant's channels in the order configured.
func (t *Tenant) OpenChannels(env registry.Env) ([]channels.Sender, error) {
	out := make([]channels.Sender, 0, len(t.Channels))
	for i, c := range t.Channels {
		s, err := channels.Kinds.Open(c.Kind, c.Config, env)
		if err != nil {
			return nil, fmt.Errorf("tenant %s: channels/%d (%s): %w", t.ID, i, c.Kind, err)
		}
		out = append(out, s)
	}
	return out, nil
}

// CampaignDefaults are defaults for payment-notice campaigns.
type CampaignDefaults struct {
	DueInDays int      `json:"dueInDays"` // default 30
	IOPurpose string   `json:"ioPurpose"` // default payments
	Languages []string `json:"languages"` // default [it]
}

// OpenSource opens the named legacy source, resolving its paths against t.Dir.
func (t *Tenant) OpenSource(name string) (legacy.DebtorSource, error) {
	s, ok := t.Sources[name]
	if !ok {
		return nil, fmt.Errorf("tenant %s: no source %q (sources: %s)", t.ID, name, t.SourceNames())
	}
	return legacy.OpenSource(s.Kind, s.Config, t.Dir)
}

// SourceNames lists the tenant's source names, sorted and comma-separated.
func (t *Tenant) SourceNames() string { return strings.Join(sortedNames(t.Sources), ", ") }

// PeopleNames lists the tenant's people source names, sorted and comma-separated.
func (t *Tenant) PeopleNames() string { return strings.Join(sortedNames(t.People), ", ") }

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Problem is one thing wrong in a config file.
type Problem struct {
	Pointer string // JSON pointer of the bad value, e.g. /pagopa/segregationCode
	Rule    string // schema keyword (required, pattern, type, ...) or Go check (checksum, cin, kind, ...)
	Message string // what is wrong
	Hint    string // what to do
	Line    int    // line in a YAML file (of the key, or of the enclosing object), 0 if unknown
}

// ConfigError lists every problem found in one config file.
type ConfigError struct {
	File     string
	Problems []Problem
}

// Error prints one line per problem: "file[:line]: pointer: rule: message; hint".
func (e *ConfigError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.File)
		if p.Line > 0 {
			fmt.Fprintf(&b, ":%d", p.Line)
		}
		ptr := p.Pointer
		if ptr == "" {
			ptr = "(root)"
		}
		fmt.Fprintf(&b, ": %s: %s: %s", ptr, p.Rule, p.Message)
		if p.Hint != "" {
			b.WriteString("; " + p.Hint)
		}
	}
	return b.String()
}

// maxConfigSize bounds what Load reads; tenant files are small.
const maxConfigSize = 4 << 20

// Load reads a tenant config (.yaml, .yml or .json), validates it against
// tenant.schema.json, each source config against its kind's schema, and then the
// checks a schema cannot express (fiscal code checksum, IBAN mod-97 and CIN). Every
// problem is reported at once in a *ConfigError; I/O failures are returned as is.
func Load(path string) (*Tenant, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxConfigSize+1))
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("tenant: %s: %w", path, err)
	}
	if len(data) > maxConfigSize {
		return nil, &ConfigError{File: path, Problems: []Problem{{Rule: "size", Message: fmt.Sprintf("file is larger than %d bytes", maxConfigSize)}}}
	}
	return parse(path, data)
}

// LoadBytes is Load for a config not yet on disk: data is validated as if
// read from path (its extension picks YAML or JSON, its directory is where
// relative paths and file: secrets resolve). Generators use it to refuse a
// config before writing it.
func LoadBytes(path string, data []byte) (*Tenant, error) {
	if len(data) > maxConfigSize {
		return nil, &ConfigError{File: path, Problems: []Problem{{Rule: "size", Message: fmt.Sprintf("file is larger than %d bytes", maxConfigSize)}}}
	}
	return parse(path, data)
}

func parse(path string, data []byte) (*Tenant, error) {
	var doc any
	var lines map[string]int
	var err error
	switch strings.ToLower(filepath.Ext(path)) {
	case ".yaml", ".yml":
		doc, lines, err = decodeYAML(data)
	case ".json":
		doc, err = decodeJSON(data)
	default:
		return nil, &ConfigError{File: path, Problems: []Problem{{Rule: "extension", Message: "unknown file type", Hint: "name the file .yaml, .yml or .json"}}}
	}
	if err != nil {
		return nil, &ConfigError{File: path, Problems: []Problem{{Rule: "syntax", Message: err.Error(), Hint: "fix the YAML/JSON syntax"}}}
	}

	var probs []schemas.Problem
	addSchemaErr := func(prefix string, err error) error {
		var ve *schemas.ValidationError
		if !errors.As(err, &ve) {
			return err
		}
		for _, p := range ve.Problems {
			p.Pointer = prefix + p.Pointer
			probs = append(probs, p)
		}
		return nil
	}
	if err := schemas.Validate(SchemaName, doc); err != nil {
		if e := addSchemaErr("", err); e != nil {
			return nil, e
		}
	}
	root, _ := doc.(map[string]any)
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("tenant: %s: %w", path, err)
	}
	probs = append(probs, checkNamed(root, "sources", legacy.Sources, dir)...)
	probs = append(probs, checkNamed(root, "people", legacy.People, dir)...)
	probs = append(probs, goChecks(root, probs)...)
	spidProbs, spidLoaded := checkSPID(root, dir, probs)
	probs = append(probs, spidProbs...)
	probs = append(probs, checkChannels(root, dir)...)
	probs = append(probs, checkPlatforms(root, dir, probs)...)

	if len(probs) > 0 {
		schemas.SortProblems(probs)
		ce := &ConfigError{File: path}
		for _, p := range probs {
			ce.Problems = append(ce.Problems, Problem{Pointer: p.Pointer, Rule: p.Rule, Message: p.Message, Hint: p.Hint, Line: lineOf(lines, p.Pointer)})
		}
		return nil, ce
	}

	b, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("tenant: %s: %w", path, err)
	}
	t := &Tenant{}
	if err := json.Unmarshal(b, t); err != nil {
		// The schema should have caught this; report it as a config problem anyway.
		return nil, &ConfigError{File: path, Problems: []Problem{{Rule: "type", Message: err.Error()}}}
	}
	t.Dir, t.File = dir, path
	t.doc, t.lines = doc, lines
	t.attachSPID(spidLoaded)
	t.PagoPA.GPD.SubscriptionKey.baseDir = dir
	t.Reports.setBaseDir(dir)
	for k, s := range t.AppIO.Services {
		s.Key.baseDir = dir
		t.AppIO.Services[k] = s
	}
	if t.CampaignDefaults.DueInDays == 0 {
		t.CampaignDefaults.DueInDays = 30
	}
	if t.CampaignDefaults.IOPurpose == "" {
		t.CampaignDefaults.IOPurpose = "payments"
	}
	if len(t.CampaignDefaults.Languages) == 0 {
		t.CampaignDefaults.Languages = []string{"it"}
	}
	return t, nil
}

// lineOf finds the line of a pointer, or of its nearest ancestor.
func lineOf(lines map[string]int, ptr string) int { return schemas.LineOf(lines, ptr) }

// checkNamed validates each connector named under key ("sources", "people") with
// the schema and check of its kind in reg, so that new kinds need no change here.
func checkNamed[T any](root map[string]any, key string, reg *registry.Registry[T], dir string) []schemas.Problem {
	named, _ := root[key].(map[string]any)
	var probs []schemas.Problem
	for _, n := range sortedNames(named) {
		src, _ := named[n].(map[string]any)
		kind, ok := src["kind"].(string)
		if !ok {
			continue // the tenant schema reports it
		}
		base := schemas.JoinPointer("/"+key, n)
		var raw json.RawMessage // nil: the kind alone is checked, the tenant schema reports the config
		if cfg, ok := src["config"].(map[string]any); ok {
			var err error
			if raw, err = json.Marshal(cfg); err != nil {
				continue
			}
		}
		probs = append(probs, checkKind(reg, kind, raw, base+"/kind", base+"/config", dir)...)
	}
	return probs
}

// checkKind validates one connector's config (nil: only its kind) with the schema
// and check of its kind in reg: an unknown kind is a problem at kindPtr, those of
// the config are under cfgPtr.
func checkKind[T any](reg *registry.Registry[T], kind string, raw json.RawMessage, kindPtr, cfgPtr, dir string) []schemas.Problem {
	var found []schemas.Problem
	var err error
	if raw == nil {
		_, err = reg.Lookup(kind)
	} else {
		found, err = reg.Validate(kind, raw, registry.Env{Dir: dir})
	}
	var probs []schemas.Problem
	var uk *registry.UnknownKindError
	switch {
	case errors.As(err, &uk):
		probs = append(probs, schemas.Problem{Pointer: kindPtr, Rule: "kind",
			Message: fmt.Sprintf("unknown %s kind %q", uk.Role, kind), Hint: "use one of: " + strings.Join(uk.Known, ", ")})
	case err != nil:
		probs = append(probs, schemas.Problem{Pointer: cfgPtr, Rule: "schema", Message: err.Error()})
	}
	for _, p := range found {
		p.Pointer = cfgPtr + p.Pointer
		probs = append(probs, p)
	}
	return probs
}

var (
	reFiscal = regexp.MustCompile(`^[0-9]{11}$`)
	reIBAN   = regexp.MustCompile(`^IT[0-9]{2}[A-Z][0-9]{10}[0-9A-Z]{12}$`)
)

// goChecks runs the checks JSON Schema cannot express, on values that passed the schema
// shape checks (so one mistake is not reported twice).
func goChecks(root map[string]any, already []schemas.Problem) []schemas.Problem {
	bad := map[string]bool{}
	for _, p := range already {
		bad[p.Pointer] = true
	}
	var probs []schemas.Problem
	fromField := func(ptr string, err error, hint string) {
		var fe *legacy.FieldError
		if errors.As(err, &fe) {
			probs = append(probs, schemas.Problem{Pointer: ptr, Rule: fe.Rule, Message: fmt.Sprintf("%s, got %q", lowerFirst(fe.MessageEN), fe.Value), Hint: hint})
		}
	}
	if fc, ok := root["fiscalCode"].(string); ok && !bad["/fiscalCode"] && reFiscal.MatchString(fc) {
		if err := legacy.ValidateNumericFiscalCode(fc); err != nil {
			fromField("/fiscalCode", err, "copy the ente's codice fiscale from indicepa.gov.it and check every digit")
		}
	}
	pp, _ := root["pagopa"].(map[string]any)
	if iban, ok := pp["iban"].(string); ok && !bad["/pagopa/iban"] && reIBAN.MatchString(iban) {
		if err := legacy.ValidateIBAN(iban); err != nil {
			fromField("/pagopa/iban", err, "copy the IBAN again from the treasury contract; one character is probably wrong")
		}
	}
	if iban, ok := pp["postalIban"].(string); ok && !bad["/pagopa/postalIban"] && reIBAN.MatchString(iban) {
		if err := legacy.ValidateIBAN(iban); err != nil {
			fromField("/pagopa/postalIban", err, "copy the BancoPosta IBAN again; one character is probably wrong")
		} else if iban[5:10] != "07601" {
			probs = append(probs, schemas.Problem{Pointer: "/pagopa/postalIban", Rule: "postal",
				Message: fmt.Sprintf("not a BancoPosta IBAN: ABI is %s, not 07601", iban[5:10]),
				Hint:    "put the bank account in iban and only a Poste Italiane account in postalIban"})
		}
	}
	cd, _ := root["campaignDefaults"].(map[string]any)
	if purpose, ok := cd["ioPurpose"].(string); ok && !bad["/campaignDefaults/ioPurpose"] {
		io, _ := root["appio"].(map[string]any)
		svcs, _ := io["services"].(map[string]any)
		if _, ok := svcs[purpose]; !ok && svcs != nil {
			probs = append(probs, schemas.Problem{Pointer: "/campaignDefaults/ioPurpose", Rule: "reference",
				Message: fmt.Sprintf("no App IO service is configured for purpose %q", purpose),
				Hint:    "add it under appio.services or pick a configured purpose"})
		}
	}
	probs = append(probs, checkAlerts(root)...)
	return append(probs, checkReports(root)...)
}

// lowerFirst lower-cases the first letter unless it starts an acronym ("IBAN").
func lowerFirst(s string) string {
	if len(s) < 2 || s[1] >= 'A' && s[1] <= 'Z' {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// LoadDir loads every *.yaml, *.yml and *.json file directly in dir (sorted by name).
// It returns the tenants that loaded and, joined, the errors of all that did not —
// including duplicate tenant ids across files.
func LoadDir(dir string) ([]*Tenant, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("tenant: %w", err)
	}
	var out []*Tenant
	var errs []error
	ids := map[string]string{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
		default:
			continue
		}
		p := filepath.Join(dir, e.Name())
		t, err := Load(p)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if prev, dup := ids[t.ID]; dup {
			errs = append(errs, &ConfigError{File: p, Problems: []Problem{{Pointer: "/id", Rule: "unique",
				Message: fmt.Sprintf("tenant id %q is already used by %s", t.ID, prev), Hint: "give every tenant its own id"}}})
			continue
		}
		ids[t.ID] = p
		out = append(out, t)
	}
	return out, errors.Join(errs...)
}

// checkPlatforms runs the checks of the platform kinds (registry.Platforms)
// that a schema cannot express on their sections, once those passed the
// schema (tenant.schema.json refers to each platform's schema).
func checkPlatforms(root map[string]any, dir string, already []schemas.Problem) []schemas.Problem {
	var probs []schemas.Problem
	for _, name := range registry.Platforms.Kinds() {
		k, err := registry.Platforms.Lookup(name)
		if err != nil || k.Check == nil || k.At == "" {
			continue
		}
		broken := false
		for _, p := range already {
			broken = broken || strings.HasPrefix(p.Pointer, k.At)
		}
		v, ok := schemas.Walk(root, strings.Split(strings.TrimPrefix(k.At, "/"), "/"))
		if broken || !ok {
			continue
		}
		raw, err := json.Marshal(v)
		if err != nil {
			continue
		}
		for _, p := range k.Check(raw, registry.Env{Dir: dir}) {
			p.Pointer = k.At + p.Pointer
			probs = append(probs, p)
		}
	}
	return probs
}

// checkChannels validates each channel with its kind's schema and check,
// looked up in channels.Kinds, so that a new kind needs no change here.
func checkChannels(root map[string]any, dir string) []schemas.Problem {
	list, _ := root["channels"].([]any)
	var probs []schemas.Problem
	for i, item := range list {
		obj, _ := item.(map[string]any)
		kind, ok := obj["kind"].(string)
		if !ok {
			continue // the tenant schema reports it
		}
		base := "/channels/" + strconv.Itoa(i)
		raw, err := json.Marshal(obj)
		if err != nil {
			continue
		}
		probs = append(probs, checkKind(channels.Kinds, kind, raw, base+"/kind", base, dir)...)
	}
	return probs
}
