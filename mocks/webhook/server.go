// Package webhookmock is a receiver of signed webhooks, as sirens, displays
// or a CRM run them: it checks each delivery's HMAC-SHA256 signature and
// timestamp the way a careful receiver does (with its own code, not the
// sender's), keeps what it accepts, answers a redelivered event id without
// keeping it twice, and has the mocks' fault knobs.
package webhookmock

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// DefaultSecret is the sample comune's webhook secret.
const DefaultSecret = "demo-webhook-secret-not-secret"

// Tolerance is how far a signed timestamp may be from the receiver's clock.
const Tolerance = 5 * time.Minute

// Options configure the receiver.
type Options struct {
	// Secret the signatures are checked with; "" means DefaultSecret.
	Secret string
	// Now is the receiver's clock (nil: time.Now).
	Now func() time.Time
}

// Delivery is an accepted delivery.
type Delivery struct {
	EventID    string          `json:"eventId"`
	Path       string          `json:"path"`
	Body       json.RawMessage `json:"body"`
	ReceivedAt time.Time       `json:"receivedAt"`
	// Redelivered counts later deliveries of the same event id.
	Redelivered int `json:"redelivered"`
}

// Stats counts what the receiver saw.
type Stats struct {
	Accepted     int `json:"accepted"`
	Duplicates   int `json:"duplicates"`
	BadSignature int `json:"badSignature"`
	Stale        int `json:"stale"`
}

// Server is the receiver; its zero value works (DefaultSecret).
type Server struct {
	opts   Options
	faults fault.Injector

	once    sync.Once
	handler http.Handler

	mu      sync.Mutex
	byID    map[string]int
	got     []Delivery
	stats   Stats
	refused []string
}

// New returns a receiver.
func New(o Options) *Server { return &Server{opts: o} }

// Faults is the receiver's fault kit (also at /__mock/faults).
func (s *Server) Faults() *fault.Injector { return &s.faults }

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Server) secret() string {
	if s.opts.Secret != "" {
		return s.opts.Secret
	}
	return DefaultSecret
}

// ServeHTTP accepts deliveries on any path but /__mock/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.once.Do(func() {
		m := http.NewServeMux()
		m.HandleFunc("GET /__mock/deliveries", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Deliveries()) })
		m.HandleFunc("GET /__mock/stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.Stats()) })
		m.HandleFunc("POST /__mock/reset", func(w http.ResponseWriter, _ *http.Request) { s.Reset(); w.WriteHeader(http.StatusNoContent) })
		m.HandleFunc("POST /", s.receive)
		s.handler = s.faults.Middleware(m, fault.HTTPOptions{})
	})
	s.handler.ServeHTTP(w, r)
}

func (s *Server) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if why, stale := s.check(r.Header.Get("X-Ponte-Signature"), body); why != "" {
		if stale {
			s.stats.Stale++
		} else {
			s.stats.BadSignature++
		}
		s.refused = append(s.refused, why)
		http.Error(w, why, http.StatusUnauthorized)
		return
	}
	id := r.Header.Get("X-Ponte-Event-Id")
	if id == "" {
		http.Error(w, "missing X-Ponte-Event-Id", http.StatusBadRequest)
		return
	}
	if !json.Valid(body) {
		http.Error(w, "the body is not JSON", http.StatusBadRequest)
		return
	}
	if s.byID == nil {
		s.byID = map[string]int{}
	}
	if i, dup := s.byID[id]; dup {
		s.got[i].Redelivered++
		s.stats.Duplicates++
		w.WriteHeader(http.StatusOK) // already have it: a receiver acknowledges again
		return
	}
	s.byID[id] = len(s.got)
	s.got = append(s.got, Delivery{EventID: id, Path: r.URL.Path, Body: append(json.RawMessage(nil), body...), ReceivedAt: s.now()})
	s.stats.Accepted++
	w.WriteHeader(http.StatusNoContent)
}

// check verifies "t=<unix>,v1=<hex>" over "<t>.<body>"; it returns why a
// delivery is refused ("" when it is not) and whether for its age.
func (s *Server) check(header string, body []byte) (string, bool) {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		if k == "t" {
			ts = v
		} else if k == "v1" {
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return "missing or malformed X-Ponte-Signature", false
	}
	if d := s.now().Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return fmt.Sprintf("signature timestamp %s away from the receiver's clock", d.Round(time.Second)), true
	}
	mac := hmac.New(sha256.New, []byte(s.secret()))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, sig := range sigs {
		if got, err := hex.DecodeString(sig); err == nil && hmac.Equal(got, want) {
			return "", false
		}
	}
	return "signature does not match", false
}

// Deliveries returns the accepted deliveries in arrival order.
func (s *Server) Deliveries() []Delivery {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Delivery(nil), s.got...)
}

// Refused returns why deliveries were refused, in order.
func (s *Server) Refused() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// Stats returns the counts.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Reset forgets everything, faults included.
func (s *Server) Reset() {
	s.mu.Lock()
	s.byID, s.got, s.stats, s.refused = nil, nil, Stats{}, nil
	s.mu.Unlock()
	s.faults.Reset()
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
