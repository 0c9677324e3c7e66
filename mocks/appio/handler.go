package appiomock

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/mocks/fault"
	"github.com/ponte-pa/ponte/schemas/contracts"
)

const maxBody = 1 << 20

// problem is the spec's ProblemJson.
type problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// reply is a computed answer.
type reply struct {
	status int
	header http.Header
	body   any
}

func problemReply(status int, title, detail string) reply {
	return reply{status: status, body: problem{Title: title, Status: status, Detail: detail}}
}

// ServeHTTP serves the API under BasePath and the inspection API under
// /__mock/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.initLocked()
	api := s.api
	s.mu.Unlock()
	if strings.HasPrefix(r.URL.Path, "/__mock/") {
		s.serveInspect(w, r)
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, BasePath)
	if !ok || (rest != "" && rest[0] != '/') {
		writeReply(w, problemReply(http.StatusNotFound, "Not Found", "no such path"))
		return
	}
	// Rate limits count arrivals: take the time before reading the body.
	rec := RequestRecord{At: s.lockedNow(), Method: r.Method, Operation: operationOf(r.Method, rest)}
	if k := r.Header.Get(SubscriptionKeyHeader); k != "" {
		sum := sha256.Sum256([]byte(k))
		rec.KeyHash = hex.EncodeToString(sum[:])
	}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		rec.Status = sw.status
		s.logRequest(rec)
	}()
	// Read the body before anything else: net/http notices a client that
	// goes away (and cancels r.Context()) only once the body is consumed.
	if r.Body != nil {
		b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	s.count(func(st *Stats) { st.Requests++ })
	api.ServeHTTP(sw, r.WithContext(withArrival(r.Context(), rec.At)))
}

type arrivalKey struct{}

func withArrival(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, arrivalKey{}, at)
}

// arrival is when ServeHTTP saw the request, for the rate limit.
func arrival(r *http.Request) time.Time {
	at, _ := r.Context().Value(arrivalKey{}).(time.Time) // always set by ServeHTTP
	return at
}

// newAPI chains what a request goes through: the fault knobs, the gate
// (API Management: key, rate limit, service allowed), the contract, and
// the operations.
func (s *Server) newAPI() http.Handler {
	ops := contracts.AppIO().Guard(http.HandlerFunc(s.serveOperation), contracts.GuardOptions{
		Refuse: func(w http.ResponseWriter, _ *http.Request, v *contracts.Violation) {
			p := contracts.Problem{Reason: v.Error()}
			if ps := v.Problems(); len(ps) > 0 {
				p = ps[0]
			}
			writeReply(w, s.invalid(invalidTitle(v.Operation, p), p.Field, p.Reason))
		},
		Broken: func(w http.ResponseWriter, _ *http.Request, v *contracts.Violation) {
			s.count(func(st *Stats) { st.ContractViolations++ })
			writeReply(w, problemReply(http.StatusInternalServerError, "Internal Server Error",
				"the App IO mock's response violates the contract: "+v.Error()))
		},
	})
	return s.faults.Middleware(s.gate(ops), fault.HTTPOptions{
		Problem: func(w http.ResponseWriter, status int, detail string) {
			writeReply(w, problemReply(status, http.StatusText(status), detail))
		},
		// POST /profiles reads a profile: only submits change state.
		ChangesState: func(r *http.Request) bool {
			return r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, BasePath+"/messages")
		},
	})
}

// invalidTitle is App IO's title for a 400: the type it failed to decode.
func invalidTitle(op string, p contracts.Problem) string {
	switch {
	case p.In == "path" || op == "getProfile" || op == "getMessage":
		return "Invalid FiscalCode"
	case op == "getProfileByPOST":
		return "Invalid FiscalCodePayload"
	}
	return "Invalid NewMessage"
}

// writeReply writes rp as JSON.
func writeReply(w http.ResponseWriter, rp reply) {
	for k, v := range rp.header {
		w.Header()[k] = v
	}
	if rp.body == nil {
		w.WriteHeader(rp.status)
		return
	}
	b, err := json.Marshal(rp.body)
	if err != nil {
		w.WriteHeader(http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(rp.status)
	_, _ = w.Write(b)
}

// gate does what API Management does before the service sees a request:
// the subscription key, the rate limit, and whether the service may use
// the API.
func (s *Server) gate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(SubscriptionKeyHeader)
		s.mu.Lock()
		if key == "" {
			s.stats.Unauthorized++
			s.mu.Unlock()
			writeReply(w, problemReply(http.StatusUnauthorized, "Unauthorized", "Access denied due to missing subscription key."))
			return
		}
		svc, ok := s.serviceFor(key)
		if !ok {
			s.stats.Unauthorized++
			s.mu.Unlock()
			writeReply(w, problemReply(http.StatusUnauthorized, "Unauthorized", "Access denied due to invalid subscription key."))
			return
		}
		if rp, limited := s.rateLimitLocked(key, arrival(r)); limited {
			s.mu.Unlock()
			writeReply(w, rp)
			return
		}
		if !svc.Allowed {
			s.stats.Forbidden++
			s.mu.Unlock()
			writeReply(w, problemReply(http.StatusForbidden, "Forbidden", "The service is not allowed to use this API."))
			return
		}
		s.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

// serveOperation routes a request that passed the gate and the contract.
func (s *Server) serveOperation(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	svc, _ := s.serviceFor(r.Header.Get(SubscriptionKeyHeader)) // the gate let it through
	s.mu.Unlock()
	parts := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, BasePath), "/"), "/")
	var rp reply
	switch {
	case len(parts) == 2 && parts[0] == "profiles" && r.Method == http.MethodGet:
		rp = s.getProfile(parts[1])
	case len(parts) == 1 && parts[0] == "profiles" && r.Method == http.MethodPost:
		var body struct {
			FiscalCode string `json:"fiscal_code"`
		}
		if bad, ok := s.decode(r, &body, "Invalid FiscalCodePayload"); !ok {
			rp = bad
			break
		}
		rp = s.getProfile(body.FiscalCode)
	case len(parts) == 1 && parts[0] == "messages" && r.Method == http.MethodPost:
		rp = s.submit(r, svc, "")
	case len(parts) == 2 && parts[0] == "messages" && r.Method == http.MethodPost:
		rp = s.submit(r, svc, parts[1])
	case len(parts) == 3 && parts[0] == "messages" && r.Method == http.MethodGet:
		rp = s.getMessage(svc, parts[1], parts[2])
	case parts[0] == "profiles" || parts[0] == "messages":
		rp = problemReply(http.StatusMethodNotAllowed, "Method Not Allowed", r.Method+" is not supported here")
	default:
		s.count(func(st *Stats) { st.NotFound++ })
		rp = problemReply(http.StatusNotFound, "Not Found", "no such operation")
	}
	writeReply(w, rp)
}

func (s *Server) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.stats)
	s.mu.Unlock()
}

// rateLimitLocked applies the per-key sliding-window limit to a request
// that arrived at now.
func (s *Server) rateLimitLocked(key string, now time.Time) (reply, bool) {
	limit := s.opts.RateLimit
	if limit <= 0 {
		return reply{}, false
	}
	win := s.opts.RateWindow
	if win <= 0 {
		win = time.Second
	}
	w := s.windows[key]
	if w == nil {
		w = &window{}
		s.windows[key] = w
	}
	// Forget arrivals that left the window (now-win, now].
	i := 0
	for i < len(w.times) && !w.times[i].After(now.Add(-win)) {
		i++
	}
	w.times = append(w.times[:0], w.times[i:]...)
	if len(w.times) < limit {
		w.times = append(w.times, now)
		return reply{}, false
	}
	s.stats.RateLimited++
	secs := int(math.Ceil(w.times[len(w.times)-limit].Add(win).Sub(now).Seconds()))
	if secs < 1 {
		secs = 1
	}
	// The spec documents 429 without headers; APIM's rate-limit policy sends
	// Retry-After, which the client honours.
	rp := problemReply(http.StatusTooManyRequests, "Too Many Requests", "Rate limit is exceeded.")
	rp.header = http.Header{"Retry-After": {strconv.Itoa(secs)}}
	return rp, true
}

// lockedNow reads the clock under the lock (Options.Now may not be safe for
// concurrent use).
func (s *Server) lockedNow() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now()
}

// operationOf names the API operation of a request for the request log.
func operationOf(method, path string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case parts[0] == "profiles" && (method == http.MethodGet || method == http.MethodPost):
		return "getProfile"
	case parts[0] == "messages" && method == http.MethodPost && len(parts) <= 2:
		return "submitMessage"
	case parts[0] == "messages" && method == http.MethodGet && len(parts) == 3:
		return "getMessage"
	}
	return "other"
}

// statusWriter remembers the status written, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Hijack lets the fault kit close the connection through the wrapper.
func (w *statusWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	hj, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("appiomock: connection cannot be hijacked")
	}
	return hj.Hijack()
}

func (s *Server) invalid(title, field, rule string) reply {
	s.count(func(st *Stats) { st.Invalid++ })
	return problemReply(http.StatusBadRequest, title, fmt.Sprintf("value at %s is not valid: %s", field, rule))
}

// decode reads a JSON body into v, answering 400 when it does not fit.
func (s *Server) decode(r *http.Request, v any, title string) (reply, bool) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return s.invalid(title, "body", "unreadable"), false
	}
	if len(b) > maxBody {
		return s.invalid(title, "body", "too large"), false
	}
	if err := json.Unmarshal(b, v); err != nil {
		return s.invalid(title, "body", "not a JSON object of the expected shape: "+err.Error()), false
	}
	return reply{}, true
}

func (s *Server) getProfile(fc string) reply {
	s.mu.Lock()
	p, ok := s.profileFor(fc)
	if !ok {
		s.stats.NotFound++
		s.mu.Unlock()
		return problemReply(http.StatusNotFound, "Profile not found", "No user found for the provided fiscal code.")
	}
	s.mu.Unlock()
	body := map[string]any{"sender_allowed": p.SenderAllowed}
	if len(p.Languages) > 0 {
		body["preferred_languages"] = p.Languages
	}
	return reply{status: http.StatusOK, body: body}
}

func (s *Server) submit(r *http.Request, svc Service, pathFC string) reply {
	const title = "Invalid NewMessage"
	var nm wireNewMessage
	if rp, ok := s.decode(r, &nm, title); !ok {
		return rp
	}
	if f, rule := nm.rules(pathFC == ""); f != "" {
		return s.invalid(title, f, rule)
	}
	fc := pathFC
	if fc == "" {
		fc = *nm.FiscalCode
	}
	var due *time.Time
	if nm.Content.DueDate != nil {
		// The contract's UTCISODateFromString (checked by the guard) takes
		// a UTC time with or without the final Z; Node, on a host in UTC,
		// reads one without it as UTC.
		t, err := time.Parse("2006-01-02T15:04:05.999999999", strings.TrimSuffix(*nm.Content.DueDate, "Z"))
		if err != nil {
			return s.invalid(title, "content.due_date", "must be an ISO-8601 timestamp")
		}
		t = t.UTC()
		due = &t
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	// The real service accepts a message before looking at the recipient;
	// the spec says a message whose recipient does not exist or has blocked
	// the sender ends REJECTED (MessageStatusValue), so do the same here.
	outcome := StatusProcessed
	p, known := s.profileFor(fc)
	switch {
	case !known || !p.SenderAllowed:
		outcome = StatusRejected
	case p.Outcome != "":
		outcome = p.Outcome
	}
	m := &message{outcome: outcome, requireSecure: nm.Content.RequireSecureChannels != nil && *nm.Content.RequireSecureChannels}
	m.ID = s.newID(now)
	m.ServiceID = svc.ID
	m.FiscalCode = fc
	m.Subject = *nm.Content.Subject
	m.Markdown = *nm.Content.Markdown
	m.CreatedAt = now.UTC()
	m.TimeToLive = 3600
	if nm.TimeToLive != nil {
		m.TimeToLive = int(*nm.TimeToLive)
	}
	m.FeatureLevelType = "STANDARD"
	if nm.FeatureLevelType != nil {
		m.FeatureLevelType = *nm.FeatureLevelType
	}
	m.DueDate = due
	if pd := nm.Content.PaymentData; pd != nil {
		m.PaymentData = &PaymentData{Amount: *pd.Amount, NoticeNumber: *pd.NoticeNumber, PayeeFiscalCode: *pd.Payee.FiscalCode}
		if pd.InvalidAfterDueDate != nil {
			m.PaymentData.InvalidAfterDueDate = *pd.InvalidAfterDueDate
		}
	}
	s.msgs = append(s.msgs, m)
	s.byID[m.ID] = m
	s.stats.Messages++
	if outcome == StatusRejected {
		s.stats.Rejected++
	}
	return reply{
		status: http.StatusCreated,
		header: http.Header{"Location": {BasePath + "/messages/" + fc + "/" + m.ID}},
		body:   map[string]string{"id": m.ID},
	}
}

func (s *Server) getMessage(svc Service, fc, id string) reply {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.byID[id]
	if !ok || m.FiscalCode != fc {
		s.stats.NotFound++
		return problemReply(http.StatusNotFound, "Message not found", "No message found for the provided ID.")
	}
	if m.ServiceID != svc.ID {
		s.stats.Forbidden++
		return problemReply(http.StatusForbidden, "Forbidden", "The message was sent by another service.")
	}
	status := s.statusAt(m, s.now())
	content := map[string]any{"subject": m.Subject, "markdown": m.Markdown}
	if m.DueDate != nil {
		content["due_date"] = m.DueDate.Format(timestampLayout)
	}
	if m.requireSecure {
		content["require_secure_channels"] = true
	}
	if pd := m.PaymentData; pd != nil {
		content["payment_data"] = map[string]any{
			"amount":                 pd.Amount,
			"notice_number":          pd.NoticeNumber,
			"invalid_after_due_date": pd.InvalidAfterDueDate,
			"payee":                  map[string]string{"fiscal_code": pd.PayeeFiscalCode},
		}
	}
	body := map[string]any{
		"message": map[string]any{
			"id":                 m.ID,
			"fiscal_code":        m.FiscalCode,
			"time_to_live":       m.TimeToLive,
			"created_at":         m.CreatedAt.Format(timestampLayout),
			"content":            content,
			"sender_service_id":  m.ServiceID,
			"feature_level_type": m.FeatureLevelType,
		},
		"status": status,
	}
	if status == StatusProcessed {
		n := map[string]string{"webhook": "SENT"}
		if !m.requireSecure {
			n["email"] = "SENT"
		}
		body["notification"] = n
	}
	if m.FeatureLevelType == "ADVANCED" && status == StatusProcessed {
		body["read_status"] = "UNREAD"
		if m.PaymentData != nil {
			body["payment_status"] = "NOT_PAID"
		}
	}
	return reply{status: http.StatusOK, body: body}
}

// Config is the body of POST /__mock/config: the mock's own settings
// (the fault knobs are at /__mock/faults); absent fields are left as they
// are.
type Config struct {
	RateLimit      *int `json:"rate_limit"`
	RateWindowMS   int  `json:"rate_window_ms"`
	ProcessAfterMS *int `json:"process_after_ms"`
}

// serveInspect serves GET /__mock/messages, GET /__mock/requests, GET
// /__mock/stats, POST /__mock/reset, POST /__mock/config and the fault
// control at /__mock/faults.
func (s *Server) serveInspect(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == fault.Path:
		s.faults.ServeHTTP(w, r)
	case r.URL.Path == "/__mock/messages" && r.Method == http.MethodGet:
		writeReply(w, reply{status: http.StatusOK, body: s.Messages()})
	case r.URL.Path == "/__mock/requests" && r.Method == http.MethodGet:
		writeReply(w, reply{status: http.StatusOK, body: s.Requests()})
	case r.URL.Path == "/__mock/stats" && r.Method == http.MethodGet:
		writeReply(w, reply{status: http.StatusOK, body: s.Stats()})
	case r.URL.Path == "/__mock/reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/__mock/config" && r.Method == http.MethodPost:
		var c Config
		dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			writeReply(w, problemReply(http.StatusBadRequest, "Bad Request", "invalid config JSON: "+err.Error()))
			return
		}
		if c.ProcessAfterMS != nil {
			s.SetProcessAfter(time.Duration(*c.ProcessAfterMS) * time.Millisecond)
		}
		if c.RateLimit != nil {
			s.SetRateLimit(*c.RateLimit, time.Duration(c.RateWindowMS)*time.Millisecond)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeReply(w, problemReply(http.StatusNotFound, "Not Found", "no such mock endpoint"))
	}
}
