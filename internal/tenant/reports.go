package tenant

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/registry"

	"github.com/ponte-pa/ponte/schemas"
)

// Reports configures citizen reports (segnalazioni, workflows/reports)
// taken through the Open311 GeoReport v2 API: the category taxonomy, the
// client apps and their API keys, the area reports may come from and the
// photo limits.
type Reports struct {
	Services []ReportService `json:"services"`
	Clients  []ReportClient  `json:"clients"`
	// Area, when set, is the bounding box a report's lat/long must lie in.
	Area           *BBox        `json:"area,omitempty"`
	Photos         ReportPhotos `json:"photos"`
	DescriptionMax int          `json:"descriptionMax,omitempty"` // default 4000
	// Agency is Open311's agency_responsible (default: the tenant's name).
	Agency  *Localized `json:"agency,omitempty"`
	Contact string     `json:"contact,omitempty"`

	// Routes send each category to the comune's CRM (a kind of
	// reports.CRMs): the route of its code, else the one of "*".
	Routes []ReportRoute `json:"routes,omitempty"`
	// SLA are the deadlines per category code (or "*"), from when a
	// report is received.
	SLA map[string]ReportSLA `json:"sla,omitempty"`
	// Supervisor is who is told when a deadline passes.
	Supervisor *ReportSupervisor `json:"supervisor,omitempty"`
	// IOPurpose is the App IO service citizens are told on (default reports).
	IOPurpose string `json:"ioPurpose,omitempty"`
	// Duplicates bounds the open reports of the same category suggested
	// as duplicates of a new one.
	Duplicates *ReportDuplicates `json:"duplicates,omitempty"`
	// PollInterval is how often the CRM is asked for a ticket's state
	// (default 15m).
	PollInterval string `json:"pollInterval,omitempty"`
	// CRMWebhook, when set, lets the CRM's signed webhook wake a report's
	// lifecycle at once.
	CRMWebhook *ReportWebhook `json:"crmWebhook,omitempty"`
}

// ReportWebhook is the CRM's signed status webhook.
type ReportWebhook struct {
	Secret    Secret `json:"secret"`
	Reference string `json:"reference,omitempty"` // default ticket.externalId
}

// ReportRoute is the CRM the reports of a category go to.
type ReportRoute struct {
	Service string          `json:"service"` // a category code or "*"
	Kind    string          `json:"kind"`
	Config  json.RawMessage `json:"config,omitempty"`
}

// ReportSLA are a category's deadlines, as Go durations ("48h").
type ReportSLA struct {
	TakeInCharge string `json:"takeInCharge,omitempty"`
	Resolve      string `json:"resolve,omitempty"`
}

// ReportSupervisor is where SLA breaches go: an e-mail address through
// the tenant's email channel, or the tenant's webhook channel.
type ReportSupervisor struct {
	Kind  string `json:"kind"` // email or webhook
	Email string `json:"email,omitempty"`
}

// ReportDuplicates is the neighbourhood of a report in space and time.
type ReportDuplicates struct {
	Metres float64 `json:"metres,omitempty"` // default 50
	Days   int     `json:"days,omitempty"`   // default 7
}

// Report defaults.
const (
	DefaultReportsPurpose  = "reports"
	DefaultDuplicateMetres = 50
	DefaultDuplicateDays   = 7
	DefaultReportsPoll     = 15 * time.Minute
)

// Route returns the route of category code: its own, else "*".
func (r *Reports) Route(code string) (ReportRoute, bool) {
	if r == nil {
		return ReportRoute{}, false
	}
	var star *ReportRoute
	for i, rt := range r.Routes {
		if rt.Service == code {
			return rt, true
		}
		if rt.Service == "*" && star == nil {
			star = &r.Routes[i]
		}
	}
	if star != nil {
		return *star, true
	}
	return ReportRoute{}, false
}

// Deadlines are the SLA of category code (its own, else "*"): how long
// until it must be taken in charge and resolved; zero: none.
func (r *Reports) Deadlines(code string) (takeInCharge, resolve time.Duration) {
	if r == nil {
		return 0, 0
	}
	s, ok := r.SLA[code]
	if !ok {
		s = r.SLA["*"]
	}
	return durationOr(s.TakeInCharge, 0), durationOr(s.Resolve, 0)
}

// Purpose is the App IO purpose of report messages.
func (r *Reports) Purpose() string {
	if r == nil || r.IOPurpose == "" {
		return DefaultReportsPurpose
	}
	return r.IOPurpose
}

// Nearby is the distance and age within which an open report of the same
// category is suggested as a duplicate.
func (r *Reports) Nearby() (metres float64, age time.Duration) {
	metres, days := float64(DefaultDuplicateMetres), DefaultDuplicateDays
	if r != nil && r.Duplicates != nil {
		if r.Duplicates.Metres > 0 {
			metres = r.Duplicates.Metres
		}
		if r.Duplicates.Days > 0 {
			days = r.Duplicates.Days
		}
	}
	return metres, time.Duration(days) * 24 * time.Hour
}

// Poll is how often a ticket's state is read from the CRM.
func (r *Reports) Poll() time.Duration {
	if r == nil {
		return DefaultReportsPoll
	}
	return durationOr(r.PollInterval, DefaultReportsPoll)
}

// CRMKinds validates a route's kind and config: reports.CRMs, set by
// package workflows/reports (which imports this package, so it cannot be
// named here). Nil: routes are only checked by the schema.
var CRMKinds interface {
	Validate(kind string, cfg json.RawMessage, env registry.Env) ([]schemas.Problem, error)
}

// RouteConfig is the config a route's CRM kind is given: its config
// object (cfg, a map or raw JSON; nil: none) with the kind in it, as a
// channel's config carries its kind.
func RouteConfig(kind string, cfg any) (json.RawMessage, error) {
	m := map[string]any{}
	switch c := cfg.(type) {
	case map[string]any:
		maps.Copy(m, c)
	case json.RawMessage:
		if len(c) > 0 {
			if err := json.Unmarshal(c, &m); err != nil {
				return nil, err
			}
		}
	}
	m["kind"] = kind
	return json.Marshal(m)
}

// checkRoutes validates each route's config with its CRM kind.
func checkRoutes(root map[string]any, dir string) []schemas.Problem {
	rp, _ := root["reports"].(map[string]any)
	list, _ := rp["routes"].([]any)
	if CRMKinds == nil {
		return nil
	}
	var probs []schemas.Problem
	for i, item := range list {
		obj, _ := item.(map[string]any)
		kind, ok := obj["kind"].(string)
		if !ok {
			continue // the tenant schema reports it
		}
		base := "/reports/routes/" + strconv.Itoa(i)
		raw, err := RouteConfig(kind, obj["config"])
		if err != nil {
			continue
		}
		found, err := CRMKinds.Validate(kind, raw, registry.Env{Dir: dir})
		var uk *registry.UnknownKindError
		switch {
		case errors.As(err, &uk):
			probs = append(probs, schemas.Problem{Pointer: base + "/kind", Rule: "kind",
				Message: fmt.Sprintf("unknown %s kind %q", uk.Role, kind), Hint: "use one of: " + strings.Join(uk.Known, ", ")})
		case err != nil:
			probs = append(probs, schemas.Problem{Pointer: base + "/config", Rule: "schema", Message: err.Error()})
		}
		for _, p := range found {
			p.Pointer = base + "/config" + p.Pointer
			probs = append(probs, p)
		}
	}
	return probs
}

// ReportService is one category of report: an Open311 service.
type ReportService struct {
	Code        string            `json:"code"`
	Name        Localized         `json:"name"`
	Description Localized         `json:"description"`
	Group       Localized         `json:"group"`
	Keywords    []string          `json:"keywords,omitempty"`
	Attributes  []ReportAttribute `json:"attributes,omitempty"`
}

// ReportAttribute is a question of a category: an attribute of its Open311
// service definition.
type ReportAttribute struct {
	Code                string        `json:"code"`
	Datatype            string        `json:"datatype"` // string number datetime text singlevaluelist multivaluelist
	Required            bool          `json:"required,omitempty"`
	Variable            *bool         `json:"variable,omitempty"` // default true
	Order               int           `json:"order,omitempty"`
	Description         Localized     `json:"description"`
	DatatypeDescription Localized     `json:"datatypeDescription"`
	Values              []ReportValue `json:"values,omitempty"`
}

// IsVariable says whether the attribute takes input (Open311 "variable").
func (a ReportAttribute) IsVariable() bool { return a.Variable == nil || *a.Variable }

// ReportValue is a choice of a list attribute.
type ReportValue struct {
	Key  string    `json:"key"`
	Name Localized `json:"name"`
}

// ReportClient is a client app allowed to file reports with its api_key.
type ReportClient struct {
	Name   string `json:"name"`
	APIKey Secret `json:"apiKey"`
}

// BBox is a WGS 84 bounding box.
type BBox struct {
	South float64 `json:"south"`
	West  float64 `json:"west"`
	North float64 `json:"north"`
	East  float64 `json:"east"`
}

// Contains says whether lat/lon lies in the box.
func (b BBox) Contains(lat, lon float64) bool {
	return lat >= b.South && lat <= b.North && lon >= b.West && lon <= b.East
}

// ReportPhotos limits a photo uploaded with a report.
type ReportPhotos struct {
	MaxBytes  int64 `json:"maxBytes,omitempty"`  // default DefaultPhotoBytes
	MaxPixels int64 `json:"maxPixels,omitempty"` // default DefaultPhotoPixels
}

// Default report limits.
const (
	DefaultPhotoBytes     = 8 << 20
	DefaultPhotoPixels    = 40_000_000
	DefaultDescriptionMax = 4000
)

// Service returns the category with code, or false.
func (r *Reports) Service(code string) (ReportService, bool) {
	if r != nil {
		for _, s := range r.Services {
			if s.Code == code {
				return s, true
			}
		}
	}
	return ReportService{}, false
}

// PhotoBytes is the largest photo upload.
func (r *Reports) PhotoBytes() int64 {
	if r == nil || r.Photos.MaxBytes <= 0 {
		return DefaultPhotoBytes
	}
	return r.Photos.MaxBytes
}

// PhotoPixels is the largest photo in pixels.
func (r *Reports) PhotoPixels() int64 {
	if r == nil || r.Photos.MaxPixels <= 0 {
		return DefaultPhotoPixels
	}
	return r.Photos.MaxPixels
}

// MaxDescription is the longest description in characters.
func (r *Reports) MaxDescription() int {
	if r == nil || r.DescriptionMax <= 0 {
		return DefaultDescriptionMax
	}
	return r.DescriptionMax
}

func (r *Reports) setBaseDir(dir string) {
	if r == nil {
		return
	}
	for i := range r.Clients {
		r.Clients[i].APIKey.baseDir = dir
	}
	if r.CRMWebhook != nil {
		r.CRMWebhook.Secret.baseDir = dir
	}
}

// checkReports finds what the schema cannot in the reports section: codes
// used twice, list attributes without values (or values on other types),
// an area whose corners are swapped.
func checkReports(root map[string]any) []schemas.Problem {
	rp, _ := root["reports"].(map[string]any)
	if rp == nil {
		return nil
	}
	var probs []schemas.Problem
	dup := func(ptr, what, v string) {
		probs = append(probs, schemas.Problem{Pointer: ptr, Rule: "unique", Message: fmt.Sprintf("%s %q is used twice", what, v),
			Hint: "give each one its own code"})
	}
	codes := map[string]bool{}
	svcs, _ := rp["services"].([]any)
	for i, s := range svcs {
		sm, _ := s.(map[string]any)
		base := fmt.Sprintf("/reports/services/%d", i)
		if c, ok := sm["code"].(string); ok {
			if codes[c] {
				dup(base+"/code", "service code", c)
			}
			codes[c] = true
		}
		attrs, _ := sm["attributes"].([]any)
		acodes := map[string]bool{}
		for j, a := range attrs {
			am, _ := a.(map[string]any)
			ab := fmt.Sprintf("%s/attributes/%d", base, j)
			if c, ok := am["code"].(string); ok {
				if acodes[c] {
					dup(ab+"/code", "attribute code", c)
				}
				acodes[c] = true
			}
			dt, _ := am["datatype"].(string)
			vals, hasVals := am["values"].([]any)
			list := dt == "singlevaluelist" || dt == "multivaluelist"
			switch {
			case list && !hasVals:
				probs = append(probs, schemas.Problem{Pointer: ab, Rule: "values", Message: "a " + dt + " attribute needs values",
					Hint: "list the choices under values: [{key, name: {it, en}}]"})
			case !list && hasVals && dt != "":
				probs = append(probs, schemas.Problem{Pointer: ab + "/values", Rule: "values", Message: "values are only for singlevaluelist and multivaluelist attributes, not " + dt,
					Hint: "drop values or change the datatype"})
			}
			keys := map[string]bool{}
			for k, v := range vals {
				vm, _ := v.(map[string]any)
				if key, ok := vm["key"].(string); ok {
					if keys[key] {
						dup(fmt.Sprintf("%s/values/%d/key", ab, k), "value key", key)
					}
					keys[key] = true
				}
			}
		}
	}
	names := map[string]bool{}
	clients, _ := rp["clients"].([]any)
	for i, c := range clients {
		cm, _ := c.(map[string]any)
		if n, ok := cm["name"].(string); ok {
			if names[n] {
				dup(fmt.Sprintf("/reports/clients/%d/name", i), "client", n)
			}
			names[n] = true
		}
	}
	if area, ok := rp["area"].(map[string]any); ok {
		num := func(k string) (float64, bool) {
			n, ok := area[k].(json.Number) // schemas.DecodeYAML and DecodeJSON keep numbers as json.Number
			if !ok {
				return 0, false
			}
			f, err := n.Float64()
			return f, err == nil
		}
		s, ok1 := num("south")
		n, ok2 := num("north")
		w, ok3 := num("west")
		e, ok4 := num("east")
		if ok1 && ok2 && s >= n {
			probs = append(probs, schemas.Problem{Pointer: "/reports/area/south", Rule: "area", Message: fmt.Sprintf("south (%g) must be less than north (%g)", s, n),
				Hint: "south is the smaller latitude; the two may be swapped"})
		}
		if ok3 && ok4 && w >= e {
			probs = append(probs, schemas.Problem{Pointer: "/reports/area/west", Rule: "area", Message: fmt.Sprintf("west (%g) must be less than east (%g)", w, e),
				Hint: "west is the smaller longitude; the two may be swapped"})
		}
	}
	return probs
}
