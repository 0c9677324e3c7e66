package crm

import (
	"cmp"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	"github.com/ponte-pa/ponte/schemas"
	"github.com/ponte-pa/ponte/workflows/reports"
)

//go:embed crm-rest.schema.json
var restSchema []byte

//go:embed crm-open311.schema.json
var open311Schema []byte

func init() {
	schemas.Register("crm-rest.schema.json", restSchema)
	schemas.Register("crm-open311.schema.json", open311Schema)
	reports.CRMs.Register(registry.Kind[reports.CRM]{
		Name:   KindREST,
		Doc:    "a CRM with its own REST API: the ticket's JSON from a field mapping, its status mapped to lifecycle states",
		Schema: "crm-rest.schema.json",
		Check:  checkREST,
		Open:   func(raw json.RawMessage, env registry.Env) (reports.CRM, error) { return OpenREST(raw, env) },
	})
	reports.CRMs.Register(registry.Kind[reports.CRM]{
		Name:   KindOpen311,
		Doc:    "a CRM that speaks Open311 GeoReport v2 (POST requests.json, GET requests/{id}.json)",
		Schema: "crm-open311.schema.json",
		Open:   func(raw json.RawMessage, env registry.Env) (reports.CRM, error) { return OpenOpen311(raw, env) },
	})
}

// RESTConfig is a "rest" CRM in a tenant config (crm-rest.schema.json).
type RESTConfig struct {
	Kind string `json:"kind"`
	URL  string `json:"url"`
	// Token is a secret reference (env:NAME or file:path).
	Token      string  `json:"token"`
	AuthHeader string  `json:"authHeader,omitempty"`
	AuthPrefix *string `json:"authPrefix,omitempty"`
	// Fields maps report fields to dotted paths of the ticket's JSON.
	Fields         map[string]string `json:"fields"`
	ReferenceField string            `json:"referenceField,omitempty"`
	IDField        string            `json:"idField,omitempty"`
	StatusURL      string            `json:"statusUrl"`
	StatusField    string            `json:"statusField,omitempty"`
	// Statuses maps the CRM's status values to lifecycle states.
	Statuses  map[string]reports.State `json:"statuses"`
	NoteField string                   `json:"noteField,omitempty"`
	Timeout   string                   `json:"timeout,omitempty"`
}

func (c *RESTConfig) defaults() {
	c.ReferenceField = cmp.Or(c.ReferenceField, "externalId")
	c.IDField = cmp.Or(c.IDField, "id")
	c.StatusField = cmp.Or(c.StatusField, "status")
	c.NoteField = cmp.Or(c.NoteField, "note")
}

// checkREST finds what the schema cannot: mappings that put two values at
// one place of the ticket, or one inside another.
func checkREST(raw json.RawMessage, _ registry.Env) []registry.Problem {
	var c RESTConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil
	}
	c.defaults()
	names := make([]string, 0, len(c.Fields))
	for n := range c.Fields {
		names = append(names, n)
	}
	slices.Sort(names)
	var probs []registry.Problem
	placed := [][2]string{{"referenceField", c.ReferenceField}}
	for _, n := range names {
		p := c.Fields[n]
		for _, q := range placed {
			if p == q[1] || strings.HasPrefix(p, q[1]+".") || strings.HasPrefix(q[1], p+".") {
				what := q[0]
				if what != "referenceField" {
					what = "fields/" + what
				}
				probs = append(probs, registry.Problem{Pointer: schemas.JoinPointer("/fields", n), Rule: "path",
					Message: fmt.Sprintf("%s collides with %s (%s): one is the other or inside it", p, what, q[1]),
					Hint:    "give each report field its own place in the ticket's JSON"})
				break
			}
		}
		placed = append(placed, [2]string{n, p})
	}
	return probs
}

// OpenREST builds a "rest" CRM from a config that passed its schema.
func OpenREST(raw json.RawMessage, env registry.Env) (*REST, error) {
	var c RESTConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, err
	}
	c.defaults()
	tok, err := env.Secret(c.Token)
	if err != nil {
		return nil, fmt.Errorf("crm rest %s: token: %w", c.URL, err)
	}
	timeout, err := parseTimeout(c.Timeout)
	if err != nil {
		return nil, fmt.Errorf("crm rest %s: timeout: %w", c.URL, err)
	}
	prefix := "Bearer "
	if c.AuthPrefix != nil {
		prefix = *c.AuthPrefix
	}
	hc := cmp.Or(env.HTTP, http.DefaultClient)
	return &REST{cfg: c, auth: prefix + tok, authHeader: cmp.Or(c.AuthHeader, "Authorization"), timeout: timeout, http: hc}, nil
}

// REST is a CRM with its own REST API.
type REST struct {
	cfg        RESTConfig
	auth       string
	authHeader string
	timeout    time.Duration
	http       *http.Client
}

var _ reports.CRM = (*REST)(nil)

// Kind implements reports.CRM.
func (*REST) Kind() string { return KindREST }

// Ticket is the JSON Forward posts for r: the mapped fields and the
// client reference.
func (c *REST) Ticket(r *reports.Report) ([]byte, error) {
	doc := map[string]any{}
	if err := setPath(doc, c.cfg.ReferenceField, r.ID); err != nil {
		return nil, err
	}
	for name, path := range c.cfg.Fields {
		if v, ok := field(r, name); ok {
			if err := setPath(doc, path, v); err != nil {
				return nil, err
			}
		}
	}
	return json.Marshal(doc)
}

// Forward implements reports.CRM: one POST with r.ID as the client
// reference, by which the CRM answers a second POST with the first
// ticket (200, 201 or 409 with the ticket in the body).
func (c *REST) Forward(ctx context.Context, r *reports.Report) (string, error) {
	if r.ID == "" {
		return "", failure.Permanentf("crm rest: a report without an id cannot be forwarded (it is the client reference)")
	}
	body, err := c.Ticket(r)
	if err != nil {
		return "", failure.Permanentf("crm rest: the ticket of report %s: %w", r.ID, err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := newRequest(ctx, http.MethodPost, c.cfg.URL, body)
	if err != nil {
		return "", failure.Mark(failure.Permanent, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set(c.authHeader, c.auth)
	ans, _, err := do(c.http, "crm rest", "forward "+r.ID, req, http.StatusConflict)
	if err != nil {
		return "", err
	}
	doc, err := decode(ans)
	if err != nil {
		return "", &channels.HTTPError{Channel: "crm rest", Op: "forward " + r.ID, Status: http.StatusOK, Ambiguous: true,
			Err: fmt.Errorf("the answer is not JSON (%v): %s", err, snippet(ans))}
	}
	id, ok := getPath(doc, c.cfg.IDField)
	if !ok || id == "" {
		// The ticket may exist: a retry finds it by the reference.
		return "", &channels.HTTPError{Channel: "crm rest", Op: "forward " + r.ID, Status: http.StatusOK, Ambiguous: true,
			Err: fmt.Errorf("the answer has no %s: %s", c.cfg.IDField, snippet(ans))}
	}
	return id, nil
}

// Status implements reports.CRM: GET statusUrl, the status mapped by
// statuses. A status the mapping does not know is a permanent error that
// names it, so that the config can be completed.
func (c *REST) Status(ctx context.Context, ticket string) (reports.State, string, error) {
	if ticket == "" {
		return "", "", failure.Permanentf("crm rest: empty ticket id")
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := newRequest(ctx, http.MethodGet, strings.ReplaceAll(c.cfg.StatusURL, "{id}", url.PathEscape(ticket)), nil)
	if err != nil {
		return "", "", failure.Mark(failure.Permanent, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set(c.authHeader, c.auth)
	ans, _, err := do(c.http, "crm rest", "status "+ticket, req)
	if err != nil {
		return "", "", err
	}
	doc, err := decode(ans)
	if err != nil {
		return "", "", failure.Retryablef("crm rest: status %s: the answer is not JSON (%v): %s", ticket, err, snippet(ans))
	}
	v, ok := getPath(doc, c.cfg.StatusField)
	if !ok {
		return "", "", failure.Permanentf("crm rest: status %s: the answer has no %s: %s", ticket, c.cfg.StatusField, snippet(ans))
	}
	st, ok := c.cfg.Statuses[v]
	if !ok {
		known := make([]string, 0, len(c.cfg.Statuses))
		for k := range c.cfg.Statuses {
			known = append(known, k)
		}
		slices.Sort(known)
		return "", "", failure.Permanentf("crm rest: status %s: the CRM's status %q is not in statuses (mapped: %s); add it to the route's statuses", ticket, v, strings.Join(known, ", "))
	}
	note, _ := getPath(doc, c.cfg.NoteField)
	return st, note, nil
}
