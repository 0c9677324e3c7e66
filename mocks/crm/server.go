// Package crmmock is a comune's CRM with its own REST API, as the "rest"
// CRM connector kind reaches one: it takes tickets with a client
// reference and files each reference once, assigns ids, moves tickets
// through its statuses on a schedule or on demand, calls a webhook signed
// with HMAC-SHA256 on every change, and has the mocks' fault knobs. It
// shares no code with the connector it stands in for.
package crmmock

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// DefaultToken is the sample comune's API token.
const DefaultToken = "demo-crm-token-not-secret"

// The CRM's statuses.
const (
	StatusNew        = "NEW"
	StatusInProgress = "IN_PROGRESS"
	StatusResolved   = "RESOLVED"
	StatusRejected   = "REJECTED"
	StatusDuplicate  = "DUPLICATE"
)

var statuses = map[string]bool{StatusNew: true, StatusInProgress: true, StatusResolved: true, StatusRejected: true, StatusDuplicate: true}

// Options configure the CRM; the zero value works.
type Options struct {
	// Token is the API token (Authorization: Bearer); "" means DefaultToken.
	Token string
	// InChargeAfter and ResolvedAfter, when not zero, move a new ticket to
	// IN_PROGRESS and then RESOLVED that long after it was filed.
	InChargeAfter, ResolvedAfter time.Duration
	// WebhookURL, when set, is POSTed every change, signed with
	// WebhookSecret ("t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>"
	// in X-Ponte-Signature, the event id in X-Ponte-Event-Id).
	WebhookURL, WebhookSecret string
	// Now is the CRM's clock (nil: time.Now).
	Now func() time.Time
	// HTTP calls the webhook (nil: a client with a 10s timeout).
	HTTP *http.Client
}

// Ticket is a ticket as the CRM's API shows it.
type Ticket struct {
	ID         string          `json:"id"`
	ExternalID string          `json:"externalId"`
	Status     string          `json:"status"`
	Note       string          `json:"note,omitempty"`
	Created    time.Time       `json:"createdAt"`
	Updated    time.Time       `json:"updatedAt"`
	Data       json.RawMessage `json:"data"`
	// Version counts changes; a webhook's event id is <id>-<version>.
	Version int `json:"version"`
}

// Event is a webhook's body.
type Event struct {
	EventID string `json:"eventId"`
	Ticket  Ticket `json:"ticket"`
}

// Stats count what the CRM saw.
type Stats struct {
	Created      int `json:"created"`
	Duplicates   int `json:"duplicates"`
	Unauthorized int `json:"unauthorized"`
	Webhooks     int `json:"webhooks"`
	WebhookFails int `json:"webhookFailures"`
}

// Server is the CRM; its zero value works.
type Server struct {
	opts   Options
	faults fault.Injector

	once    sync.Once
	handler http.Handler

	mu      sync.Mutex
	tickets []*Ticket
	byID    map[string]*Ticket
	byRef   map[string]*Ticket
	stats   Stats
}

// New returns a CRM.
func New(o Options) *Server { return &Server{opts: o} }

// Faults is the CRM's fault kit (also at /__mock/faults).
func (s *Server) Faults() *fault.Injector { return &s.faults }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) token() string {
	if s.opts.Token != "" {
		return s.opts.Token
	}
	return DefaultToken
}

// ServeHTTP serves the API: POST /api/tickets, GET /api/tickets/{id};
// and the inspection API under /__mock/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(func() {
		m := http.NewServeMux()
		m.HandleFunc("POST /api/tickets", s.authed(s.create))
		m.HandleFunc("GET /api/tickets/{id}", s.authed(s.get))
		m.HandleFunc("GET /__mock/tickets", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Tickets()) })
		m.HandleFunc("GET /__mock/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, http.StatusOK, s.Stats()) })
		m.HandleFunc("POST /__mock/tickets/{id}/status", s.setStatus)
		m.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
		s.handler = s.faults.Middleware(m, fault.HTTPOptions{Problem: problem})
	})
	s.handler.ServeHTTP(w, r)
}

func problem(w http.ResponseWriter, status int, detail string) {
	writeJSON(w, status, map[string]any{"error": http.StatusText(status), "detail": detail})
}

func (s *Server) authed(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !hmac.Equal([]byte(r.Header.Get("Authorization")), []byte("Bearer "+s.token())) {
			s.mu.Lock()
			s.stats.Unauthorized++
			s.mu.Unlock()
			problem(w, http.StatusUnauthorized, "missing or wrong bearer token")
			return
		}
		h(w, r)
	}
}

func (s *Server) create(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		problem(w, http.StatusBadRequest, "unreadable body")
		return
	}
	var doc map[string]any
	if err := json.Unmarshal(body, &doc); err != nil {
		problem(w, http.StatusBadRequest, "the body is not a JSON object: "+err.Error())
		return
	}
	ref, _ := doc["externalId"].(string)
	if ref == "" {
		problem(w, http.StatusUnprocessableEntity, "externalId (the client reference) is required")
		return
	}
	s.mu.Lock()
	if t, dup := s.byRef[ref]; dup {
		s.stats.Duplicates++
		s.advanceLocked(t)
		out := *t
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, out) // the ticket this reference already has
		return
	}
	if s.byID == nil {
		s.byID, s.byRef = map[string]*Ticket{}, map[string]*Ticket{}
	}
	now := s.now()
	t := &Ticket{ID: fmt.Sprintf("T-%06d", len(s.tickets)+1), ExternalID: ref, Status: StatusNew, Created: now, Updated: now, Data: body, Version: 1}
	s.tickets = append(s.tickets, t)
	s.byID[t.ID], s.byRef[ref] = t, t
	s.stats.Created++
	out := *t
	s.mu.Unlock()
	if s.opts.WebhookURL != "" {
		s.schedule(t.ID)
	}
	writeJSON(w, http.StatusCreated, out)
}

// schedule makes the timed changes happen on time, so that their
// webhooks are sent; reads apply them anyway (advanceLocked).
func (s *Server) schedule(id string) {
	for _, d := range []time.Duration{s.opts.InChargeAfter, s.opts.ResolvedAfter} {
		if d > 0 {
			time.AfterFunc(d, func() {
				s.mu.Lock()
				t := s.byID[id]
				var ev []Event
				if t != nil {
					ev = s.advanceLocked(t)
				}
				s.mu.Unlock()
				s.notify(ev)
			})
		}
	}
}

// advanceLocked applies the schedule to t and returns the events of the
// changes it made.
func (s *Server) advanceLocked(t *Ticket) []Event {
	now := s.now()
	var ev []Event
	step := func(after time.Duration, from []string, to string) {
		if after <= 0 || now.Sub(t.Created) < after {
			return
		}
		for _, f := range from {
			if t.Status == f {
				ev = append(ev, s.changeLocked(t, to, "", t.Created.Add(after)))
				return
			}
		}
	}
	step(s.opts.InChargeAfter, []string{StatusNew}, StatusInProgress)
	step(s.opts.ResolvedAfter, []string{StatusNew, StatusInProgress}, StatusResolved)
	return ev
}

func (s *Server) changeLocked(t *Ticket, status, note string, at time.Time) Event {
	t.Status, t.Note, t.Updated = status, note, at
	t.Version++
	return Event{EventID: t.ID + "-" + strconv.Itoa(t.Version), Ticket: *t}
}

func (s *Server) get(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	t := s.byID[r.PathValue("id")]
	var ev []Event
	var out Ticket
	if t != nil {
		ev = s.advanceLocked(t)
		out = *t
	}
	s.mu.Unlock()
	s.notify(ev)
	if t == nil {
		problem(w, http.StatusNotFound, "no ticket "+r.PathValue("id"))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

// SetStatus changes a ticket's status now, as an operator does, and
// calls the webhook.
func (s *Server) SetStatus(id, status, note string) error {
	if !statuses[status] {
		return fmt.Errorf("unknown status %q (NEW, IN_PROGRESS, RESOLVED, REJECTED, DUPLICATE)", status)
	}
	s.mu.Lock()
	t := s.byID[id]
	if t == nil {
		s.mu.Unlock()
		return fmt.Errorf("no ticket %s", id)
	}
	ev := s.changeLocked(t, status, note, s.now())
	s.mu.Unlock()
	s.notify([]Event{ev})
	return nil
}

func (s *Server) setStatus(w http.ResponseWriter, r *http.Request) {
	var in struct{ Status, Note string }
	if err := json.NewDecoder(io.LimitReader(r.Body, 64<<10)).Decode(&in); err != nil {
		problem(w, http.StatusBadRequest, `want {"status": "...", "note": "..."}`)
		return
	}
	if err := s.SetStatus(r.PathValue("id"), in.Status, in.Note); err != nil {
		problem(w, http.StatusBadRequest, err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// notify POSTs each event to the webhook, signed; a failure is counted,
// not retried (the receiver can poll).
func (s *Server) notify(evs []Event) {
	if s.opts.WebhookURL == "" {
		return
	}
	hc := s.opts.HTTP
	if hc == nil {
		hc = &http.Client{Timeout: 10 * time.Second}
	}
	for _, ev := range evs {
		ok := s.post(hc, ev)
		s.mu.Lock()
		if ok {
			s.stats.Webhooks++
		} else {
			s.stats.WebhookFails++
		}
		s.mu.Unlock()
	}
}

func (s *Server) post(hc *http.Client, ev Event) bool {
	body, err := json.Marshal(ev)
	if err != nil {
		return false
	}
	req, err := http.NewRequest(http.MethodPost, s.opts.WebhookURL, bytes.NewReader(body))
	if err != nil {
		return false
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	mac := hmac.New(sha256.New, []byte(s.opts.WebhookSecret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Ponte-Event-Id", ev.EventID)
	req.Header.Set("X-Ponte-Signature", "t="+ts+",v1="+hex.EncodeToString(mac.Sum(nil)))
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)); err != nil {
		return false
	}
	return resp.StatusCode/100 == 2
}

// Tickets returns the tickets in filing order, with the schedule applied.
func (s *Server) Tickets() []Ticket {
	s.mu.Lock()
	var evs []Event
	out := make([]Ticket, len(s.tickets))
	for i, t := range s.tickets {
		evs = append(evs, s.advanceLocked(t)...)
		out[i] = *t
	}
	s.mu.Unlock()
	s.notify(evs)
	return out
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Reset forgets every ticket and counter, and the fault knobs.
func (s *Server) Reset() {
	s.mu.Lock()
	s.tickets, s.byID, s.byRef, s.stats = nil, nil, nil, Stats{}
	s.mu.Unlock()
	s.faults.Reset()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v) // the client may have gone
}
