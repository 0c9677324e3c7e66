// Package open311 is the citizen reports intake of the gateway: every
// tenant with a reports section gets, under /t/<id>/open311/v2/, the
// Open311 GeoReport v2 API (http://wiki.open311.org/GeoReport_v2) in JSON
// and XML — service discovery, the category taxonomy as services and
// service definitions, POST requests with api_key, GET requests, GET
// requests/{id}, GET tokens/{token} — plus, beyond the standard, photo
// upload (metadata stripped), the reporter's identity from the SPID
// session and an OpenAPI description at openapi.json. Reports are kept by
// workflows/reports.
package open311

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// Specification is the URL of the spec the endpoints follow, as the
// discovery document names it.
const Specification = "http://wiki.open311.org/GeoReport_v2"

// Options configure the intake. Store is required.
type Options struct {
	Store  *reports.Store
	Logger *slog.Logger
	Now    func() time.Time
	// OnReceived, when set, is called once a report is stored (with its
	// photo), e.g. to start its lifecycle workflow. Its error is logged: the
	// report stays stored and the client has its service_request_id.
	OnReceived func(ctx context.Context, r *reports.Report) error
}

// Intake serves the Open311 API of every tenant with a reports section.
type Intake struct{ opts Options }

// New returns the intake.
func New(opts Options) (*Intake, error) {
	if opts.Store == nil {
		return nil, errors.New("open311: a reports store is required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Intake{opts: opts}, nil
}

// CitizenFunc reads who is logged in with SPID from a request (nil, error
// when nobody is): gateway.Site.Citizen.
type CitizenFunc func(r *http.Request) (*gateway.Citizen, error)

// Mount serves s's tenant's API on mux under s.Path()/open311/v2; a tenant
// without a reports section gets nothing. It fits gateway.Options.Mount.
func (in *Intake) Mount(mux *http.ServeMux, s *gateway.Site) {
	if s.Tenant.Reports == nil {
		return
	}
	in.MountTenant(mux, s.Tenant, s.Path(), strings.TrimRight(s.SP.BaseURL(), "/"), s.Citizen)
}

// Path is where a tenant's API is, below its gateway path.
const Path = "/open311/v2"

// MountTenant serves t's API on mux under path+Path; publicBase is the
// public URL of path (for media_url and discovery), citizen reads the SPID
// session (nil: every report is anonymous).
func (in *Intake) MountTenant(mux *http.ServeMux, t *tenant.Tenant, path, publicBase string, citizen CitizenFunc) {
	st := &site{Intake: in, t: t, cfg: t.Reports, base: path + Path, public: publicBase + Path, citizen: citizen, keys: map[[32]byte]string{}}
	for _, c := range t.Reports.Clients {
		k, err := c.APIKey.Resolve()
		if err != nil {
			in.opts.Logger.Warn("open311: client app disabled: its api_key cannot be read", "tenant", t.ID, "client", c.Name, "err", err)
			continue
		}
		st.keys[sha256.Sum256([]byte(k))] = c.Name
	}
	b := st.base
	mux.HandleFunc("GET "+b+"/{file}", st.handleGet)
	mux.HandleFunc("POST "+b+"/{file}", st.handlePost)
	mux.HandleFunc("GET "+b+"/services/{file}", st.handleDefinition)
	mux.HandleFunc("GET "+b+"/requests/{file}", st.handleRequest)
	mux.HandleFunc("GET "+b+"/tokens/{file}", st.handleToken)
	mux.HandleFunc("GET "+b+"/media/{id}", st.handleMedia)
	in.opts.Logger.Info("Open311 GeoReport v2 intake", "tenant", t.ID, "url", st.public+"/discovery.json",
		"services", len(t.Reports.Services), "clients", len(st.keys))
}

// site is one tenant's API.
type site struct {
	*Intake
	t       *tenant.Tenant
	cfg     *tenant.Reports
	base    string // path on the gateway
	public  string // public URL of base
	citizen CitizenFunc
	keys    map[[32]byte]string // SHA-256 of each api_key → client name
}

// client finds the app whose api_key is key, in constant time per key.
func (s *site) client(key string) (string, bool) {
	h := sha256.Sum256([]byte(key))
	name, found := "", false
	for k, n := range s.keys {
		if subtle.ConstantTimeCompare(k[:], h[:]) == 1 {
			name, found = n, true
		}
	}
	return name, found
}

// splitFormat splits "services.json" into "services" and "json"; the
// format is json or xml (spec: "Format Support"), anything else is "".
func splitFormat(file string) (name, format string) {
	i := strings.LastIndexByte(file, '.')
	if i < 0 {
		return file, ""
	}
	switch f := file[i+1:]; f {
	case "json", "xml":
		return file[:i], f
	}
	return file, ""
}

// lang is the language of the texts in answers: English when the client
// prefers it (Accept-Language), Italian otherwise. GeoReport v2 has no
// language parameter; the Accept-Language header is plain HTTP.
func lang(r *http.Request) string {
	for _, part := range strings.Split(r.Header.Get("Accept-Language"), ",") {
		tag := strings.ToLower(strings.TrimSpace(strings.SplitN(part, ";", 2)[0]))
		switch {
		case strings.HasPrefix(tag, "en"):
			return "en"
		case strings.HasPrefix(tag, "it"):
			return "it"
		}
	}
	return "it"
}

// write sends v in format: JSON, or XML after the declaration the spec
// requires ("the root element must be preceded with the XML declaration
// including the encoding=UTF-8 attribute"). xmlV is v's XML form when its
// root differs (lists in a wrapper element).
func write(w http.ResponseWriter, format string, status int, v, xmlV any) {
	var b bytes.Buffer
	var ctype string
	if format == "xml" {
		ctype = "text/xml; charset=utf-8"
		b.WriteString(xml.Header)
		if xmlV == nil {
			xmlV = v
		}
		if err := xml.NewEncoder(&b).Encode(xmlV); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	} else {
		ctype = "application/json; charset=utf-8"
		if err := json.NewEncoder(&b).Encode(v); err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}

// problem is one thing wrong with a call: its HTTP status and a
// description that names the field, in Italian and English.
type problem struct {
	status int
	field  string
	it, en string
}

func (p problem) apiError() apiError {
	d := p.it + " / " + p.en
	if p.field != "" {
		d = p.field + ": " + d
	}
	return apiError{Code: p.status, Description: d}
}

// writeErrors answers with the spec's error format: an array of
// {code, description} (XML: errors/error). The HTTP status is the first
// problem's (they are sorted: authentication first, then the most
// specific status).
func writeErrors(w http.ResponseWriter, format string, probs ...problem) {
	sort.SliceStable(probs, func(i, j int) bool { return rank(probs[i].status) < rank(probs[j].status) })
	errs := make([]apiError, len(probs))
	for i, p := range probs {
		errs[i] = p.apiError()
	}
	if format == "" {
		format = "json"
	}
	write(w, format, probs[0].status, errs, errorsXML{Errors: errs})
}

func rank(status int) int {
	switch status {
	case http.StatusForbidden:
		return 0
	case http.StatusRequestEntityTooLarge:
		return 1
	case http.StatusUnsupportedMediaType:
		return 2
	case http.StatusNotFound:
		return 3
	}
	return 4
}

func notFound(field, it, en string) problem { return problem{http.StatusNotFound, field, it, en} }
func bad(field, it, en string) problem      { return problem{http.StatusBadRequest, field, it, en} }

var errFormat = bad("format", "formato sconosciuto: usare .json o .xml", "unknown format: use .json or .xml")

// handleGet serves the resources at the top of the API: discovery,
// services, requests and the OpenAPI description.
func (s *site) handleGet(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if file == "openapi.json" {
		s.handleOpenAPI(w, r)
		return
	}
	name, format := splitFormat(file)
	if format == "" {
		writeErrors(w, "json", notFound("", "risorsa sconosciuta: "+file, "unknown resource: "+file))
		return
	}
	switch name {
	case "discovery":
		s.handleDiscovery(w, format)
	case "services":
		s.handleServices(w, r, format)
	case "requests":
		s.handleRequests(w, r, format)
	default:
		writeErrors(w, format, notFound("", "risorsa sconosciuta: "+file, "unknown resource: "+file))
	}
}

// handleDiscovery serves the Service Discovery document. Its changeset is
// when the tenant's configuration (so the taxonomy) was loaded.
func (s *site) handleDiscovery(w http.ResponseWriter, format string) {
	changed := configTime(s.t)
	contact := s.cfg.Contact
	if contact == "" {
		contact = s.t.Name.IT
	}
	d := discovery{Changeset: changed, Contact: contact, KeyService: contact,
		Endpoints: []endpoint{{Specification: Specification, URL: s.public, Changeset: changed, Type: "production",
			Formats: []string{"text/xml", "application/json"}}}}
	write(w, format, http.StatusOK, d, nil)
}

// configTime is when the tenant's file last changed, or when this
// process started.
func configTime(t *tenant.Tenant) string {
	if fi, err := os.Stat(t.File); err == nil {
		return datetime(fi.ModTime())
	}
	return datetime(startedAt)
}

var startedAt = time.Now()

// datetime formats t as the spec wants: ISO 8601 with the time zone.
func datetime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (s *site) handleServices(w http.ResponseWriter, r *http.Request, format string) {
	l := lang(r)
	out := make([]service, 0, len(s.cfg.Services))
	for _, sv := range s.cfg.Services {
		out = append(out, service{ServiceCode: sv.Code, ServiceName: sv.Name.In(l), Description: sv.Description.In(l),
			Metadata: len(sv.Attributes) > 0, Type: "realtime", Keywords: strings.Join(sv.Keywords, ", "), Group: sv.Group.In(l)})
	}
	write(w, format, http.StatusOK, out, servicesXML{Services: out})
}

// handleDefinition serves GET services/{service_code}: the category's
// attributes in their order (spec: 404 for an unknown service_code).
func (s *site) handleDefinition(w http.ResponseWriter, r *http.Request) {
	code, format := splitFormat(r.PathValue("file"))
	if format == "" {
		writeErrors(w, "json", errFormat)
		return
	}
	sv, ok := s.cfg.Service(code)
	if !ok {
		writeErrors(w, format, notFound("service_code", "categoria sconosciuta "+code, "unknown service_code "+code))
		return
	}
	l := lang(r)
	def := serviceDefinition{ServiceCode: sv.Code, Attributes: []attribute{}}
	for i, a := range sv.Attributes {
		order := a.Order
		if order == 0 {
			order = i + 1
		}
		at := attribute{Variable: a.IsVariable(), Code: a.Code, Datatype: a.Datatype, Required: a.Required,
			DatatypeDescription: a.DatatypeDescription.In(l), Order: order, Description: a.Description.In(l)}
		for _, v := range a.Values {
			at.Values = append(at.Values, value{Key: v.Key, Name: v.Name.In(l)})
		}
		def.Attributes = append(def.Attributes, at)
	}
	sort.SliceStable(def.Attributes, func(i, j int) bool { return def.Attributes[i].Order < def.Attributes[j].Order })
	write(w, format, http.StatusOK, def, nil)
}
