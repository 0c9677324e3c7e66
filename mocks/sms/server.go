// Package smsmock is an HTTP SMS gateway as Italian providers run them: a
// token in the Authorization header, one JSON message per POST, the
// gateway's id in the answer, a client reference it deduplicates by, and a
// delivery status to poll. Numbers can be told to fail, and the mocks'
// fault knobs apply.
package smsmock

import (
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// DefaultToken is the sample comune's gateway token.
const DefaultToken = "demo-sms-token-not-secret"

// Options configure the gateway.
type Options struct {
	// Token accepted after "Bearer "; "" means DefaultToken.
	Token string
	// Unreachable numbers are refused with 422 (a number the operator does
	// not know, or one that opted out).
	Unreachable []string
	// Undeliverable numbers are accepted, then reported "failed" by the
	// delivery status (a phone switched off past the validity period).
	Undeliverable []string
	// DeliverAfter is how long a message stays "accepted" before it is
	// "delivered" or "failed" (0: at once).
	DeliverAfter time.Duration
	Now          func() time.Time
}

// Message is a message the gateway accepted.
type Message struct {
	ID         string    `json:"id"`
	To         string    `json:"to"`
	From       string    `json:"from"`
	Text       string    `json:"text"`
	Reference  string    `json:"reference,omitempty"`
	AcceptedAt time.Time `json:"acceptedAt"`
	// Resent counts later POSTs with the same reference.
	Resent int `json:"resent"`
}

// Server is the gateway; its zero value works.
type Server struct {
	opts   Options
	faults fault.Injector

	once    sync.Once
	handler http.Handler

	mu    sync.Mutex
	msgs  []Message
	byRef map[string]int
	byID  map[string]int
}

// New returns a gateway.
func New(o Options) *Server { return &Server{opts: o} }

// Faults is the gateway's fault kit (also at /__mock/faults).
func (s *Server) Faults() *fault.Injector { return &s.faults }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{6,14}$`)

// ServeHTTP serves POST /messages, GET /messages/{id} and /__mock/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(func() {
		m := http.NewServeMux()
		m.HandleFunc("POST /messages", s.send)
		m.HandleFunc("GET /messages/{id}", s.status)
		m.HandleFunc("GET /__mock/messages", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, 200, s.Messages()) })
		s.handler = s.faults.Middleware(m, fault.HTTPOptions{
			Problem: func(w http.ResponseWriter, status int, detail string) {
				writeJSON(w, status, map[string]string{"error": detail})
			},
		})
	})
	s.handler.ServeHTTP(w, r)
}

func (s *Server) authorized(r *http.Request) bool {
	tok := s.opts.Token
	if tok == "" {
		tok = DefaultToken
	}
	return r.Header.Get("Authorization") == "Bearer "+tok
}

func (s *Server) send(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid token"})
		return
	}
	var in struct{ To, From, Text, Reference string }
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "body: " + err.Error()})
		return
	}
	switch {
	case !e164.MatchString(in.To):
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "to: not an E.164 number"})
		return
	case in.From == "" || len(in.From) > 16:
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "from: 1 to 11 characters, or a number"})
		return
	case strings.TrimSpace(in.Text) == "":
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "text: empty"})
		return
	}
	for _, n := range s.opts.Unreachable {
		if n == in.To {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]string{"error": "to: number not reachable"})
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.byRef == nil {
		s.byRef, s.byID = map[string]int{}, map[string]int{}
	}
	if in.Reference != "" {
		if i, dup := s.byRef[in.Reference]; dup {
			s.msgs[i].Resent++
			writeJSON(w, http.StatusOK, map[string]string{"id": s.msgs[i].ID, "status": "accepted"})
			return
		}
	}
	msg := Message{ID: fmt.Sprintf("sms-%06d", len(s.msgs)+1), To: in.To, From: in.From, Text: in.Text, Reference: in.Reference, AcceptedAt: s.now()}
	s.byID[msg.ID] = len(s.msgs)
	if in.Reference != "" {
		s.byRef[in.Reference] = len(s.msgs)
	}
	s.msgs = append(s.msgs, msg)
	writeJSON(w, http.StatusCreated, map[string]string{"id": msg.ID, "status": "accepted"})
}

// status answers a delivery-status poll: accepted, then delivered (or
// failed, for an undeliverable number).
func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid token"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	i, ok := s.byID[r.PathValue("id")]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "no such message"})
		return
	}
	st := "accepted"
	if !s.now().Before(s.msgs[i].AcceptedAt.Add(s.opts.DeliverAfter)) {
		st = "delivered"
		for _, n := range s.opts.Undeliverable {
			if n == s.msgs[i].To {
				st = "failed"
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"id": s.msgs[i].ID, "status": st})
}

// Messages returns the accepted messages in order.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
