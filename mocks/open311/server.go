// Package open311mock is a CRM that speaks Open311 GeoReport v2
// (https://wiki.open311.org/GeoReport_v2), as the "open311" CRM connector
// kind reaches one: services and their definitions, POST requests.json
// with an api_key, GET requests, requests/{id} and tokens/{token}, in
// JSON; statuses change on demand; the mocks' fault knobs. It is written
// from the specification, sharing no code with the connector or with our
// own Open311 intake.
package open311mock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// DefaultAPIKey is the api_key the sample comune was given.
const DefaultAPIKey = "demo-open311-key-not-secret"

// Options configure the server; the zero value works.
type Options struct {
	// APIKey is the key POST requests.json wants; "" means DefaultAPIKey.
	APIKey string
	// Services are the services offered (nil: DefaultServices).
	Services []Service
	// ReferenceAttribute, when set, is an attribute code by which a second
	// request with the same value is answered with the first one's id
	// instead of being filed again (a server that honours a client
	// reference; GeoReport v2 itself has none).
	ReferenceAttribute string
	// TokenOnly answers POST requests.json with a token only; the id is
	// assigned after TokenReads reads of tokens/{token} (404 until then).
	TokenOnly  bool
	TokenReads int
	// Now is the server's clock (nil: time.Now).
	Now func() time.Time
}

// Service is a service of GET services.json.
type Service struct {
	Code, Name, Description, Group string
	// Attributes, when any, make it metadata=true with a definition.
	Attributes []Attribute
}

// Attribute is one attribute of a service definition.
type Attribute struct {
	Code, Description, Datatype string
	Required                    bool
}

// DefaultServices are a comune's usual services.
func DefaultServices() []Service {
	return []Service{
		{Code: "001", Name: "Buca stradale", Description: "Buche e dissesti della strada", Group: "Strade"},
		{Code: "002", Name: "Rifiuti abbandonati", Description: "Rifiuti abbandonati su suolo pubblico", Group: "Ambiente"},
		{Code: "004", Name: "Illuminazione pubblica", Description: "Lampioni spenti o danneggiati", Group: "Strade",
			Attributes: []Attribute{{Code: "ponte_ref", Description: "Riferimento del sistema che inoltra", Datatype: "string"}}},
	}
}

// Request is a service request as the server keeps it.
type Request struct {
	ID          string            `json:"service_request_id"`
	Token       string            `json:"token"`
	ServiceCode string            `json:"service_code"`
	Status      string            `json:"status"`
	StatusNotes string            `json:"status_notes"`
	Description string            `json:"description"`
	Address     string            `json:"address"`
	Lat, Long   *float64          `json:"-"`
	Email       string            `json:"email"`
	Attributes  map[string]string `json:"attributes"`
	Requested   time.Time         `json:"requested_datetime"`
	Updated     time.Time         `json:"updated_datetime"`
	tokenReads  int
}

// Server is the Open311 server; its zero value works.
type Server struct {
	opts   Options
	faults fault.Injector

	once    sync.Once
	handler http.Handler

	mu    sync.Mutex
	reqs  []*Request
	byID  map[string]*Request
	byTok map[string]*Request
	byRef map[string]*Request
	posts int
}

// New returns a server.
func New(o Options) *Server { return &Server{opts: o} }

// Faults is the server's fault kit (also at /__mock/faults).
func (s *Server) Faults() *fault.Injector { return &s.faults }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) services() []Service {
	if s.opts.Services != nil {
		return s.opts.Services
	}
	return DefaultServices()
}

// ServeHTTP serves GeoReport v2 at the root and the inspection API under
// /__mock/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(func() {
		m := http.NewServeMux()
		m.HandleFunc("GET /services.json", s.listServices)
		m.HandleFunc("GET /services/{code}", s.definition)
		m.HandleFunc("POST /requests.json", s.create)
		m.HandleFunc("GET /requests.json", s.list)
		m.HandleFunc("GET /requests/{id}", s.get)
		m.HandleFunc("GET /tokens/{token}", s.token)
		m.HandleFunc("GET /__mock/requests", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Requests()) })
		m.HandleFunc("POST /__mock/requests/{id}/status", s.setStatus)
		m.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
		s.handler = s.faults.Middleware(m, fault.HTTPOptions{Problem: func(w http.ResponseWriter, status int, detail string) { fail(w, status, detail) }})
	})
	s.handler.ServeHTTP(w, r)
}

// fail writes GeoReport v2's error format: [{code, description}].
func fail(w http.ResponseWriter, status int, desc string) {
	writeJSON(w, status, []map[string]any{{"code": status, "description": desc}})
}

// jsonOnly strips ".json" from a path element; other formats are 400
// (this mock serves JSON only).
func jsonOnly(w http.ResponseWriter, name string) (string, bool) {
	base, ok := strings.CutSuffix(name, ".json")
	if !ok {
		fail(w, http.StatusBadRequest, "this server answers in JSON only: ask for "+name+".json")
	}
	return base, ok
}

func (s *Server) listServices(w http.ResponseWriter, _ *http.Request) {
	var out []map[string]any
	for _, sv := range s.services() {
		out = append(out, map[string]any{"service_code": sv.Code, "service_name": sv.Name, "description": sv.Description,
			"metadata": len(sv.Attributes) > 0, "type": "realtime", "keywords": "", "group": sv.Group})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) service(code string) (Service, bool) {
	for _, sv := range s.services() {
		if sv.Code == code {
			return sv, true
		}
	}
	return Service{}, false
}

func (s *Server) definition(w http.ResponseWriter, r *http.Request) {
	code, ok := jsonOnly(w, r.PathValue("code"))
	if !ok {
		return
	}
	sv, ok := s.service(code)
	if !ok {
		fail(w, http.StatusNotFound, "no service "+code)
		return
	}
	attrs := []map[string]any{}
	for i, a := range sv.Attributes {
		attrs = append(attrs, map[string]any{"variable": true, "code": a.Code, "datatype": a.Datatype, "required": a.Required,
			"datatype_description": "", "order": i + 1, "description": a.Description})
	}
	writeJSON(w, http.StatusOK, map[string]any{"service_code": sv.Code, "attributes": attrs})
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		fail(w, http.StatusBadRequest, "unreadable form: "+err.Error())
		return
	}
	key := s.opts.APIKey
	if key == "" {
		key = DefaultAPIKey
	}
	if r.PostForm.Get("api_key") != key {
		fail(w, http.StatusForbidden, "api_key missing or not valid")
		return
	}
	f := r.PostForm
	sv, ok := s.service(f.Get("service_code"))
	if !ok {
		fail(w, http.StatusBadRequest, "service_code "+strconv.Quote(f.Get("service_code"))+" not found")
		return
	}
	req := &Request{ServiceCode: sv.Code, Status: "open", Description: f.Get("description"), Address: f.Get("address_string"),
		Email: f.Get("email"), Attributes: map[string]string{}}
	if f.Get("lat") != "" || f.Get("long") != "" {
		lat, err1 := strconv.ParseFloat(f.Get("lat"), 64)
		lon, err2 := strconv.ParseFloat(f.Get("long"), 64)
		if err1 != nil || err2 != nil || lat < -90 || lat > 90 || lon < -180 || lon > 180 {
			fail(w, http.StatusBadRequest, "lat and long must be WGS84 coordinates")
			return
		}
		req.Lat, req.Long = &lat, &lon
	}
	if req.Lat == nil && req.Address == "" && f.Get("address_id") == "" {
		fail(w, http.StatusBadRequest, "a location is required: lat and long, address_string or address_id")
		return
	}
	for k, vs := range f {
		if code, ok := strings.CutPrefix(k, "attribute["); ok {
			code = strings.TrimSuffix(strings.TrimSuffix(code, "[]"), "]")
			req.Attributes[code] = strings.Join(vs, ",")
		}
	}
	for _, a := range sv.Attributes {
		if a.Required && req.Attributes[a.Code] == "" {
			fail(w, http.StatusBadRequest, "attribute["+a.Code+"] is required")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.posts++
	if ref := req.Attributes[s.opts.ReferenceAttribute]; s.opts.ReferenceAttribute != "" && ref != "" {
		if prev, dup := s.byRef[ref]; dup {
			writeJSON(w, http.StatusCreated, []map[string]any{s.answerLocked(prev)})
			return
		}
	}
	if s.byID == nil {
		s.byID, s.byTok, s.byRef = map[string]*Request{}, map[string]*Request{}, map[string]*Request{}
	}
	req.Requested, req.Updated = s.now(), s.now()
	req.Token = fmt.Sprintf("tok-%d", len(s.reqs)+1)
	s.reqs = append(s.reqs, req)
	s.byTok[req.Token] = req
	if !s.opts.TokenOnly {
		s.assignLocked(req)
	}
	if ref := req.Attributes[s.opts.ReferenceAttribute]; s.opts.ReferenceAttribute != "" && ref != "" {
		s.byRef[ref] = req
	}
	writeJSON(w, http.StatusCreated, []map[string]any{s.answerLocked(req)})
}

func (s *Server) assignLocked(req *Request) {
	req.ID = strconv.Itoa(1000 + len(s.byID) + 1)
	s.byID[req.ID] = req
}

func (s *Server) answerLocked(req *Request) map[string]any {
	if req.ID == "" {
		return map[string]any{"token": req.Token}
	}
	return map[string]any{"service_request_id": req.ID, "service_notice": ""}
}

func (s *Server) view(req *Request) map[string]any {
	v := map[string]any{"service_request_id": req.ID, "status": req.Status, "status_notes": req.StatusNotes, "service_code": req.ServiceCode,
		"description": req.Description, "address": req.Address, "requested_datetime": req.Requested.Format(time.RFC3339),
		"updated_datetime": req.Updated.Format(time.RFC3339), "agency_responsible": "", "service_notice": "", "media_url": ""}
	if req.Lat != nil {
		v["lat"], v["long"] = *req.Lat, *req.Long
	}
	return v
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	id, ok := jsonOnly(w, r.PathValue("id"))
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.byID[id]
	if req == nil {
		fail(w, http.StatusNotFound, "no service request "+id)
		return
	}
	writeJSON(w, http.StatusOK, []map[string]any{s.view(req)})
}

func (s *Server) list(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := map[string]bool{}
	for _, id := range strings.Split(r.URL.Query().Get("service_request_id"), ",") {
		if id != "" {
			ids[id] = true
		}
	}
	out := []map[string]any{}
	for _, req := range s.reqs {
		if req.ID == "" || (len(ids) > 0 && !ids[req.ID]) {
			continue
		}
		if st := r.URL.Query().Get("status"); st != "" && st != req.Status {
			continue
		}
		out = append(out, s.view(req))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	tok, ok := jsonOnly(w, r.PathValue("token"))
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.byTok[tok]
	if req == nil {
		fail(w, http.StatusNotFound, "no token "+tok)
		return
	}
	if req.ID == "" {
		req.tokenReads++
		if req.tokenReads <= s.opts.TokenReads {
			fail(w, http.StatusNotFound, "the request has no id yet")
			return
		}
		s.assignLocked(req)
	}
	writeJSON(w, http.StatusOK, []map[string]any{{"service_request_id": req.ID, "token": req.Token}})
}

// SetStatus changes a request's status ("open" or "closed") and notes.
func (s *Server) SetStatus(id, status, notes string) error {
	if status != "open" && status != "closed" {
		return fmt.Errorf("status %q: GeoReport v2 knows open and closed", status)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	req := s.byID[id]
	if req == nil {
		return fmt.Errorf("no service request %s", id)
	}
	req.Status, req.StatusNotes, req.Updated = status, notes, s.now()
	return nil
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Status      string `json:"status"`
		StatusNotes string `json:"status_notes"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		fail(w, http.StatusBadRequest, `want {"status": "open|closed", "status_notes": "..."}`)
		return
	}
	if err := s.SetStatus(r.PathValue("id"), in.Status, in.StatusNotes); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// Requests returns copies of the requests in filing order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		out[i] = *r
	}
	return out
}

// Posts counts the POST requests.json the server accepted, duplicates
// included.
func (s *Server) Posts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts
}

// Reset forgets every request, and the fault knobs.
func (s *Server) Reset() {
	s.mu.Lock()
	s.reqs, s.byID, s.byTok, s.byRef, s.posts = nil, nil, nil, nil, 0
	s.mu.Unlock()
	s.faults.Reset()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone
}
