// Package contracts holds the official interface contracts of the national
// platforms that Ponte may redistribute (pagoPA GPD, App IO), embedded byte
// for byte with their licences, and judges HTTP traffic by them: clients'
// tests validate what they send and receive, mocks validate every request
// and response at run time. README.md in this directory lists the sources,
// commits, licences and checksums.
package contracts

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"sigs.k8s.io/yaml"
)

//go:embed *.json *.yaml *.LICENSE
var files embed.FS

// The embedded contract files.
const (
	// GPDv1File is the pagoPA GPD external API v1 (debt positions), OpenAPI 3.1.0.
	GPDv1File = "gpd-external-v1.json"
	// GPDv3File is the GPD external API v3 (payment options and installments), OpenAPI 3.1.0.
	GPDv3File = "gpd-external-v3.json"
	// AppIOFile is the App IO API for Public Administration Services v4.1.1, Swagger 2.0.
	AppIOFile = "io-services-v4.yaml"
)

// File returns an embedded file (a contract or a licence) exactly as copied
// from its source.
func File(name string) ([]byte, error) {
	return files.ReadFile(name)
}

// Files lists the embedded files.
func Files() []string {
	entries, err := fs.ReadDir(files, ".")
	if err != nil {
		return nil // unreachable: the embedded root always reads
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// Load reads an embedded contract into a kin-openapi document, Swagger 2.0
// converted to OpenAPI 3, with the upstream quirks fixed (see fixGPD) and
// the document validated. Each call returns a new document.
func Load(name string) (*openapi3.T, error) {
	raw, err := File(name)
	if err != nil {
		return nil, fmt.Errorf("contracts: %w", err)
	}
	var doc *openapi3.T
	switch name {
	case GPDv1File, GPDv3File:
		loader := openapi3.NewLoader()
		loader.IsExternalRefsAllowed = false
		if doc, err = loader.LoadFromData(raw); err != nil {
			return nil, fmt.Errorf("contracts: load %s: %w", name, err)
		}
		fixGPD(doc)
	case AppIOFile:
		if doc, err = loadSwagger2(raw); err != nil {
			return nil, fmt.Errorf("contracts: load %s: %w", name, err)
		}
	default:
		return nil, fmt.Errorf("contracts: %s is not a contract", name)
	}
	// Examples are not normative, and some upstream ones do not match
	// their own schemas.
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("contracts: %s: %w", name, err)
	}
	return doc, nil
}

// loadSwagger2 converts a Swagger 2.0 document (YAML or JSON) to OpenAPI 3.
func loadSwagger2(raw []byte) (*openapi3.T, error) {
	js, err := yaml.YAMLToJSON(raw)
	if err != nil {
		return nil, err
	}
	var doc2 openapi2.T
	if err := json.Unmarshal(js, &doc2); err != nil {
		return nil, err
	}
	return openapi2conv.ToV3(&doc2)
}

// fixGPD repairs the GPD files' upstream quirks so that they load and
// validate with Go tools:
//
//   - the path parameters' pattern [\w*\h-]+ uses \h (horizontal white
//     space, a Java regex class) which RE2 rejects: it becomes [\w* \t-]+;
//   - boolean defaults are written as strings ("default": "true"): they
//     become booleans.
func fixGPD(doc *openapi3.T) {
	fixParams := func(ps openapi3.Parameters) {
		for _, p := range ps {
			if p.Value != nil && p.Value.Schema != nil && p.Value.Schema.Value != nil {
				s := p.Value.Schema.Value
				s.Pattern = strings.ReplaceAll(s.Pattern, `\h`, ` \t`)
			}
		}
	}
	for _, item := range doc.Paths.Map() {
		fixParams(item.Parameters)
		for _, op := range item.Operations() {
			fixParams(op.Parameters)
		}
	}
	seen := map[*openapi3.Schema]bool{}
	var walk func(s *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if s.Type.Is("boolean") {
			if d, ok := s.Default.(string); ok && (d == "true" || d == "false") {
				s.Default = d == "true"
			}
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		for _, l := range []openapi3.SchemaRefs{s.AllOf, s.AnyOf, s.OneOf} {
			for _, x := range l {
				walk(x)
			}
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
}

// Formats that the contracts name without defining them, or define in a way
// their platform does not follow.
var (
	// App IO's custom formats are @pagopa/ts-commons types; these are their
	// patterns (ts-commons strings.ts, FiscalCode and OrganizationFiscalCode;
	// UTCISODateFromString accepts an ISO 8601 timestamp with a zone).
	appIOFormats = map[string]openapi3.StringFormatValidator{
		"FiscalCode": openapi3.NewRegexpFormatValidator(
			`^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$`),
		"OrganizationFiscalCode": openapi3.NewRegexpFormatValidator(`^[0-9]{11}$`),
		// UTCISODateFromString (pagopa/io-ts-commons src/dates.ts,
		// UTC_ISO8601_FULL_REGEX) takes a UTC time, with or without the
		// final Z, and refuses a zone offset.
		"UTCISODateFromString": openapi3.NewRegexpFormatValidator(UTCISODatePattern),
		// ts-commons Ulid: 26 characters of Crockford's base 32.
		"Ulid": openapi3.NewRegexpFormatValidator(`^[0-9A-HJKMNP-TV-Z]{26}$`),
	}

	// UTCISODatePattern is App IO's UTCISODateFromString: a UTC time,
	// "Z" optional (a time without it is read as UTC by the service, which
	// runs in UTC), never an offset.
	UTCISODatePattern = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z?$`

	// LocalDateTimePattern is how GPD writes and reads its date-times. The
	// contract says "format: date-time" (RFC 3339, which needs a zone
	// offset) because springdoc documents java.time.LocalDateTime so, but
	// every GPD date-time (PaymentPositionModel.validityDate,
	// PaymentOptionModel.dueDate/retentionDate, the read-only dates) is a
	// LocalDateTime in pagopa-debt-position @597562dd: GPD answers them
	// without an offset (Europe/Rome wall time) and Jackson's
	// LocalDateTimeDeserializer refuses "+01:00" with a 400 (a trailing
	// "Z" it drops when lenient, silently reading UTC as Rome time). So
	// for GPD a date-time is an ISO local date-time: no "Z", no offset.
	LocalDateTimePattern = `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?$`

	gpdFormats = map[string]openapi3.StringFormatValidator{
		"date-time": openapi3.NewRegexpFormatValidator(LocalDateTimePattern),
	}
)

var localDateTimeRE = regexp.MustCompile(LocalDateTimePattern)

// IsLocalDateTime reports whether s is a date-time as GPD exchanges them
// (see LocalDateTimePattern).
func IsLocalDateTime(s string) bool { return localDateTimeRE.MatchString(s) }
