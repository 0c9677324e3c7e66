// Package appiomock is a faithful fake of the App IO Services API v4
// (profiles, message submission, message status) as an http.Handler, for
// tests, demos and `ponte mocks`. Every request and response is judged by
// the official contract (schemas/contracts) at run time: a request that
// breaks it is refused with 400 and a ProblemJson, as App IO does. It has
// the fault knobs of every mock (Faults, /__mock/faults) and an inspection
// API under /__mock/.
package appiomock

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
)

// BasePath is the spec's basePath; the API is served under it, so a client's
// base URL is "<server URL>/api/v1".
const BasePath = "/api/v1"

// SubscriptionKeyHeader carries the service's subscription key.
const SubscriptionKeyHeader = "Ocp-Apim-Subscription-Key"

// Message statuses (MessageStatusValue in the spec).
const (
	StatusAccepted  = "ACCEPTED"
	StatusThrottled = "THROTTLED"
	StatusFailed    = "FAILED"
	StatusProcessed = "PROCESSED"
	StatusRejected  = "REJECTED"
)

// Service is an IO service as seen through one subscription key.
type Service struct {
	ID   string
	Name string
	// Allowed is false for a service that may not use the API: every call
	// with its key is answered 403.
	Allowed bool
}

// ProfileSpec describes a citizen known to IO.
type ProfileSpec struct {
	// SenderAllowed is false when the citizen opted out of the services:
	// messages to them end REJECTED.
	SenderAllowed bool
	// Languages are the preferred languages, e.g. "it_IT".
	Languages []string
	// Outcome is the final status of messages to this citizen: PROCESSED
	// (default), REJECTED or FAILED; THROTTLED keeps them THROTTLED forever.
	Outcome string
}

// Options configures a Server. The zero value accepts any non-empty key and
// knows no citizen.
type Options struct {
	// Services maps subscription keys to services. Empty means any non-empty
	// key is a valid, allowed service (with an id derived from the key).
	Services map[string]Service
	// Profiles maps fiscal codes to citizens on IO; others get 404.
	Profiles map[string]ProfileSpec
	// DefaultKnown makes every well-formed fiscal code missing from Profiles
	// a citizen with sender_allowed=true (handy for big tests).
	DefaultKnown bool
	// ProcessAfter is how long a message stays ACCEPTED before reaching its
	// final status (measured with Now). Zero means at once.
	ProcessAfter time.Duration
	// RateLimit is the number of requests per RateWindow (default 1s) allowed
	// per subscription key before 429; 0 means no limit. The window slides:
	// a request is refused when RateLimit accepted requests of the same key
	// arrived in the RateWindow before it, wherever the window starts. This
	// is the strictest reading of a limit, so a client that passes here
	// passes a fixed-window server too. Refused requests do not count.
	RateLimit  int
	RateWindow time.Duration
	// RequestLogSize caps the request log kept for Requests (default
	// 100000; the oldest entries are dropped).
	RequestLogSize int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// PaymentData is the payment request of a delivered message.
type PaymentData struct {
	Amount              int64  `json:"amount"`
	NoticeNumber        string `json:"notice_number"`
	InvalidAfterDueDate bool   `json:"invalid_after_due_date"`
	PayeeFiscalCode     string `json:"payee_fiscal_code"`
}

// DeliveredMessage is a message the mock accepted, as Messages reports it.
type DeliveredMessage struct {
	ID               string       `json:"id"`
	ServiceID        string       `json:"service_id"`
	FiscalCode       string       `json:"fiscal_code"`
	Subject          string       `json:"subject"`
	Markdown         string       `json:"markdown"`
	DueDate          *time.Time   `json:"due_date,omitempty"`
	PaymentData      *PaymentData `json:"payment_data,omitempty"`
	TimeToLive       int          `json:"time_to_live"`
	FeatureLevelType string       `json:"feature_level_type"`
	// Status is the status at the time of the call.
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

// Stats counts what the mock saw since creation or the last Reset.
type Stats struct {
	// Requests is every API request (not /__mock/), faulted ones included
	// (Faults().Stats() counts the faults).
	Requests int `json:"requests"`
	// Messages is the number of messages accepted (201).
	Messages int `json:"messages"`
	// RateLimited is the number of 429 answers of the rate limit.
	RateLimited int `json:"rate_limited"`
	// Rejected is the number of accepted messages that end REJECTED
	// (recipient not on IO or sender not allowed).
	Rejected int `json:"rejected"`
	// Invalid is the number of 400 answers.
	Invalid      int `json:"invalid"`
	Unauthorized int `json:"unauthorized"`
	Forbidden    int `json:"forbidden"`
	NotFound     int `json:"not_found"`
	// ContractViolations counts the mock's own responses that broke the
	// contract (answered 500 instead): always 0 unless the mock has a bug.
	ContractViolations int `json:"contract_violations"`
}

// Server is the fake App IO API. It is ready at its zero value and safe for
// concurrent use.
type Server struct {
	mu      sync.Mutex
	inited  bool
	opts    Options
	msgs    []*message
	byID    map[string]*message
	windows map[string]*window
	reqLog  []RequestRecord
	stats   Stats
	seq     uint64
	faults  fault.Injector
	api     http.Handler // faults, then the gate, the contract and the operations
}

// window is the arrival times of the last accepted requests of a key,
// oldest first (at most RateLimit of them).
type window struct {
	times []time.Time
}

// RequestRecord is one API request as the mock saw it.
type RequestRecord struct {
	// At is the arrival time (when the handler started, by the mock's clock).
	At time.Time `json:"at"`
	// KeyHash is the hex SHA-256 of the subscription key ("" without one).
	KeyHash string `json:"key_hash"`
	Method  string `json:"method"`
	// Operation is "getProfile", "submitMessage", "getMessage" or "other".
	Operation string `json:"operation"`
	// Status is the HTTP status answered, 0 for a dropped connection.
	Status int `json:"status"`
}

type message struct {
	DeliveredMessage
	outcome        string
	requireSecure  bool
	hasPaymentData bool
}

// New returns a Server configured by opts. The maps are copied.
func New(opts Options) *Server {
	s := &Server{}
	s.opts = opts
	s.opts.Services = copyMap(opts.Services)
	s.opts.Profiles = copyMap(opts.Profiles)
	s.initLocked()
	return s
}

func copyMap[V any](m map[string]V) map[string]V {
	out := make(map[string]V, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func (s *Server) initLocked() {
	if s.inited {
		return
	}
	s.inited = true
	if s.opts.Services == nil {
		s.opts.Services = map[string]Service{}
	}
	if s.opts.Profiles == nil {
		s.opts.Profiles = map[string]ProfileSpec{}
	}
	s.byID = map[string]*message{}
	s.windows = map[string]*window{}
	s.api = s.newAPI()
}

func (s *Server) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

// SetProfile adds or replaces a citizen.
func (s *Server) SetProfile(fiscalCode string, p ProfileSpec) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	s.opts.Profiles[fiscalCode] = p
}

// SetService adds or replaces the service behind a subscription key. Once a
// service is set, unknown keys are refused with 401.
func (s *Server) SetService(key string, svc Service) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	s.opts.Services[key] = svc
}

// Faults are the fault knobs of the API (ProblemJson bodies). A lost
// response is an accepted submit: the message is stored, the client cannot
// know it exists.
func (s *Server) Faults() *fault.Injector { return &s.faults }

// SetRateLimit allows n requests per window per subscription key (n = 0
// removes the limit).
func (s *Server) SetRateLimit(n int, window time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	s.opts.RateLimit, s.opts.RateWindow = n, window
	clear(s.windows)
}

// SetProcessAfter sets how long new and existing messages stay ACCEPTED
// before reaching their final status.
func (s *Server) SetProcessAfter(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	s.opts.ProcessAfter = d
}

// Requests returns the request log (oldest first, at most RequestLogSize
// entries), for checking clients' pacing.
func (s *Server) Requests() []RequestRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]RequestRecord(nil), s.reqLog...)
}

func (s *Server) logRequest(r RequestRecord) {
	s.mu.Lock()
	defer s.mu.Unlock()
	max := s.opts.RequestLogSize
	if max <= 0 {
		max = 100000
	}
	if len(s.reqLog) >= max {
		// Drop a tenth at once, so a full log does not copy on every request.
		n := copy(s.reqLog, s.reqLog[len(s.reqLog)-max+max/10+1:])
		s.reqLog = s.reqLog[:n]
	}
	s.reqLog = append(s.reqLog, r)
}

// Messages returns the accepted messages in arrival order, with their status
// at the current time.
func (s *Server) Messages() []DeliveredMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	out := make([]DeliveredMessage, len(s.msgs))
	for i, m := range s.msgs {
		out[i] = m.DeliveredMessage
		out[i].Status = s.statusAt(m, now)
	}
	return out
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Reset forgets messages, counters, rate windows and pending faults; the
// configured services, profiles and options stay.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.initLocked()
	s.msgs = nil
	s.reqLog = nil
	clear(s.byID)
	clear(s.windows)
	s.stats = Stats{}
	s.faults.Reset()
}

func (s *Server) statusAt(m *message, now time.Time) string {
	if now.Before(m.CreatedAt.Add(s.opts.ProcessAfter)) {
		return StatusAccepted
	}
	return m.outcome
}

// serviceFor resolves a subscription key; ok is false for an unknown key.
func (s *Server) serviceFor(key string) (Service, bool) {
	if len(s.opts.Services) == 0 {
		sum := sha256.Sum256([]byte(key))
		return Service{ID: "SVC" + strings.ToUpper(hex.EncodeToString(sum[:8])), Name: "Mock service", Allowed: true}, true
	}
	svc, ok := s.opts.Services[key]
	return svc, ok
}

// profileFor looks a citizen up; fc is well formed (the contract checks
// every fiscal code that reaches the mock).
func (s *Server) profileFor(fc string) (ProfileSpec, bool) {
	if p, ok := s.opts.Profiles[fc]; ok {
		return p, true
	}
	if s.opts.DefaultKnown {
		return ProfileSpec{SenderAllowed: true, Languages: []string{"it_IT"}}, true
	}
	return ProfileSpec{}, false
}

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// newID makes a 26-character ULID-like id: 48 bits of milliseconds and an
// 80-bit sequence, unique within the server.
func (s *Server) newID(now time.Time) string {
	s.seq++
	var b [26]byte
	ms := uint64(now.UnixMilli())
	for i := 9; i >= 0; i-- {
		b[i] = crockford[ms&31]
		ms >>= 5
	}
	seq := s.seq
	for i := 25; i >= 10; i-- {
		b[i] = crockford[seq&31]
		seq >>= 5
	}
	return string(b[:])
}
