// Package fault is the one fault kit of Ponte's mocks: the same knobs —
// fail the next N requests, add latency, fail a seeded fraction of them,
// drop the connection, apply a request and then lose its response — with
// the same Go API (an *Injector) and the same HTTP control at
// /__mock/faults on every mock. HTTP mocks put Middleware in front of
// their API; the SMTP mock asks SMTPTransaction at each MAIL FROM; the Nodo
// simulator asks Next for each payment.
package fault

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"
)

// Path is where every mock serves its fault control: GET shows the knobs
// and counters, POST sets knobs (a JSON Settings), DELETE resets.
const Path = "/__mock/faults"

// Failure is what an injected failure answers.
type Failure struct {
	// Status is the HTTP status (for SMTP, the reply code: 4xx or 5xx).
	Status int `json:"status"`
	// Body, when set, is sent as is (for SMTP, the reply text); empty
	// means the mock's own error shape (ProblemJson for GPD and App IO).
	Body        string `json:"body,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	// RetryAfter, in seconds, is sent as a Retry-After header (HTTP only).
	RetryAfter int `json:"retryAfter,omitempty"`
}

// Stats counts the faults injected since the last Reset.
type Stats struct {
	Failed  int `json:"failed"`  // answered by FailNext
	Errors  int `json:"errors"`  // drawn by the error rate
	Dropped int `json:"dropped"` // connections closed without processing
	Lost    int `json:"lost"`    // applied, then the response was lost
	Delayed int `json:"delayed"` // requests held back by the latency knob
	// Injected is Failed + Errors + Dropped + Lost.
	Injected int `json:"injected"`
}

// Knobs are the current settings.
type Knobs struct {
	FailNext        int     `json:"failNext"`
	FailStatus      int     `json:"failStatus"`
	FailBody        string  `json:"failBody,omitempty"`
	FailContentType string  `json:"failContentType,omitempty"`
	RetryAfter      int     `json:"retryAfter,omitempty"`
	LatencyMS       int64   `json:"latencyMs"`
	ErrorRate       float64 `json:"errorRate"`
	Seed            uint64  `json:"seed"`
	DropNext        int     `json:"dropNext"`
	LoseNext        int     `json:"loseNext"`
}

// State is what GET /__mock/faults answers.
type State struct {
	Knobs
	Stats Stats `json:"stats"`
}

// Kind is the fault chosen for one request.
type Kind int

// Kinds of Fault. Losing a response is decided after the request is
// applied: see LoseApplied.
const (
	None Kind = iota
	Fail      // answer Fault.Failure without processing the request
	Drop      // close the connection without processing the request
)

// Fault is the decision for one request.
type Fault struct {
	// Latency to wait before anything else (also for None).
	Latency time.Duration
	Kind    Kind
	// Failure is set for Fail. A failure drawn by the error rate has
	// Status 0: the medium's own transient error (HTTP 500, SMTP 451).
	Failure Failure
}

// DefaultStatus is the status of FailNext over HTTP when none is given.
const DefaultStatus = http.StatusInternalServerError

// Injector holds one mock's fault knobs and counts the faults it injects.
// It is ready at its zero value and safe for concurrent use.
type Injector struct {
	mu      sync.Mutex
	failN   int
	failure Failure
	latency time.Duration
	rate    float64
	seed    uint64
	rng     *rand.Rand
	dropN   int
	loseN   int
	stats   Stats
}

// FailNext makes the next n requests fail with status and the mock's own
// error body.
func (i *Injector) FailNext(n, status int) { i.FailNextWith(n, Failure{Status: status}) }

// FailNextWith makes the next n requests answer f.
func (i *Injector) FailNextWith(n int, f Failure) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failN, i.failure = max(n, 0), f
}

// SetLatency delays every request by d (0 turns it off).
func (i *Injector) SetLatency(d time.Duration) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.latency = max(d, 0)
}

// SetErrorRate makes a fraction p (0..1) of the requests fail with the
// medium's transient error, drawn from a generator seeded with seed: the
// same seed fails the same requests of the same sequence. p = 0 turns it
// off.
func (i *Injector) SetErrorRate(p float64, seed uint64) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.setRateLocked(p, seed)
}

func (i *Injector) setRateLocked(p float64, seed uint64) {
	i.rate, i.seed = min(max(p, 0), 1), seed
	i.rng = rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
}

// DropNext closes the connection of the next n requests without
// processing them.
func (i *Injector) DropNext(n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.dropN = max(n, 0)
}

// LoseNext makes the next n requests that change state and succeed be
// applied and then lose their response (the connection is closed instead):
// the client cannot know that its request took effect. Reads are never
// lost: losing them would be a mere DropNext.
func (i *Injector) LoseNext(n int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.loseN = max(n, 0)
}

// Reset turns every knob off and zeroes the counters.
func (i *Injector) Reset() {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.failN, i.failure, i.latency, i.dropN, i.loseN, i.stats = 0, Failure{}, 0, 0, 0, Stats{}
	i.rate, i.seed, i.rng = 0, 0, nil
}

// Stats returns the counters.
func (i *Injector) Stats() Stats {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.statsLocked()
}

func (i *Injector) statsLocked() Stats {
	s := i.stats
	s.Injected = s.Failed + s.Errors + s.Dropped + s.Lost
	return s
}

// Knobs returns the current settings.
func (i *Injector) Knobs() Knobs {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.knobsLocked()
}

func (i *Injector) knobsLocked() Knobs {
	return Knobs{FailNext: i.failN, FailStatus: i.failure.Status, FailBody: i.failure.Body,
		FailContentType: i.failure.ContentType, RetryAfter: i.failure.RetryAfter,
		LatencyMS: i.latency.Milliseconds(), ErrorRate: i.rate, Seed: i.seed, DropNext: i.dropN, LoseNext: i.loseN}
}

// State returns the knobs and the counters.
func (i *Injector) State() State {
	i.mu.Lock()
	defer i.mu.Unlock()
	return State{Knobs: i.knobsLocked(), Stats: i.statsLocked()}
}

// Next decides the fault of one request and counts it: a pending drop
// first, then a pending failure, then a draw of the error rate.
func (i *Injector) Next() Fault {
	i.mu.Lock()
	defer i.mu.Unlock()
	f := Fault{Latency: i.latency}
	if f.Latency > 0 {
		i.stats.Delayed++
	}
	switch {
	case i.dropN > 0:
		i.dropN--
		i.stats.Dropped++
		f.Kind = Drop
	case i.failN > 0:
		i.failN--
		i.stats.Failed++
		f.Kind, f.Failure = Fail, i.failure
	case i.rate > 0 && i.rng != nil && i.rng.Float64() < i.rate:
		i.stats.Errors++
		f.Kind = Fail
	}
	return f
}

// LosePending reports whether a lost response is pending, so that the
// caller keeps the response of the request it is about to apply.
func (i *Injector) LosePending() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.loseN > 0
}

// LoseApplied is called once a state-changing request has been applied
// successfully; it reports whether its response must be lost, and counts it.
func (i *Injector) LoseApplied() bool {
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.loseN == 0 {
		return false
	}
	i.loseN--
	i.stats.Lost++
	return true
}

// Settings change knobs; absent (nil) fields are left as they are. It is
// the body of POST /__mock/faults.
type Settings struct {
	FailNext        *int     `json:"failNext"`
	FailStatus      *int     `json:"failStatus"`
	FailBody        *string  `json:"failBody"`
	FailContentType *string  `json:"failContentType"`
	RetryAfter      *int     `json:"retryAfter"`
	LatencyMS       *int64   `json:"latencyMs"`
	ErrorRate       *float64 `json:"errorRate"`
	Seed            *uint64  `json:"seed"`
	DropNext        *int     `json:"dropNext"`
	LoseNext        *int     `json:"loseNext"`
}

// Apply checks s and sets its knobs, all or none. FailNext without
// FailStatus keeps the current status, or DefaultStatus; ErrorRate without
// Seed keeps the current seed.
func (i *Injector) Apply(s Settings) error {
	nonNeg := func(name string, v *int) error {
		if v != nil && *v < 0 {
			return fmt.Errorf("%s must not be negative, got %d", name, *v)
		}
		return nil
	}
	for _, c := range []struct {
		name string
		v    *int
	}{{"failNext", s.FailNext}, {"retryAfter", s.RetryAfter}, {"dropNext", s.DropNext}, {"loseNext", s.LoseNext}} {
		if err := nonNeg(c.name, c.v); err != nil {
			return err
		}
	}
	if s.FailStatus != nil && (*s.FailStatus < 400 || *s.FailStatus > 599) {
		return fmt.Errorf("failStatus must be 400..599, got %d", *s.FailStatus)
	}
	if s.LatencyMS != nil && *s.LatencyMS < 0 {
		return fmt.Errorf("latencyMs must not be negative, got %d", *s.LatencyMS)
	}
	if s.ErrorRate != nil && (*s.ErrorRate < 0 || *s.ErrorRate > 1) {
		return fmt.Errorf("errorRate must be 0..1, got %g", *s.ErrorRate)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if s.FailStatus != nil {
		i.failure.Status = *s.FailStatus
	}
	if s.FailBody != nil {
		i.failure.Body = *s.FailBody
	}
	if s.FailContentType != nil {
		i.failure.ContentType = *s.FailContentType
	}
	if s.RetryAfter != nil {
		i.failure.RetryAfter = *s.RetryAfter
	}
	if s.FailNext != nil {
		i.failN = *s.FailNext
		if i.failure.Status == 0 {
			i.failure.Status = DefaultStatus
		}
	}
	if s.LatencyMS != nil {
		i.latency = time.Duration(*s.LatencyMS) * time.Millisecond
	}
	if s.ErrorRate != nil || s.Seed != nil {
		rate, seed := i.rate, i.seed
		if s.ErrorRate != nil {
			rate = *s.ErrorRate
		}
		if s.Seed != nil {
			seed = *s.Seed
		}
		i.setRateLocked(rate, seed)
	}
	if s.DropNext != nil {
		i.dropN = *s.DropNext
	}
	if s.LoseNext != nil {
		i.loseN = *s.LoseNext
	}
	return nil
}
