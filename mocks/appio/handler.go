package appiomock

import (
	"bufio"
	"bytes"
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
)

const maxBody = 1 << 20

// problem is the spec's ProblemJson.
type problem struct {
	Type   string `json:"type,omitempty"`
	Title  string `json:"title,omitempty"`
	Status int    `json:"status,omitempty"`
	Detail string `json:"detail,omitempty"`
}

// reply is a computed answer; lose asks to drop the connection instead.
type reply struct {
	status int
	header http.Header
	body   any
	lose   bool
}

func problemReply(status int, title, detail string) reply {
	return reply{status: status, body: problem{Title: title, Status: status, Detail: detail}}
}

// ServeHTTP serves the API under BasePath and the inspection API under
// /__mock/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
	w = sw
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

	s.mu.Lock()
	s.initLocked()
	s.stats.Requests++
	latency := s.latency
	var drop bool
	var fault int
	switch {
	case s.dropN > 0:
		s.dropN--
		s.stats.Dropped++
		drop = true
	case s.failN > 0:
		s.failN--
		s.stats.Injected++
		fault = s.failCode
	case s.errRate > 0 && s.rng != nil && s.rng.Float64() < s.errRate:
		s.stats.Injected++
		fault = http.StatusInternalServerError
	}
	if fault == http.StatusTooManyRequests {
		s.stats.RateLimited++
	}
	s.mu.Unlock()

	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-r.Context().Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
	if drop {
		dropConn(w)
		return
	}
	if fault != 0 {
		writeReply(w, problemReply(fault, http.StatusText(fault), "fault injected by the mock"))
		return
	}
	rp := s.handle(r, rest, rec.At)
	if rp.lose {
		dropConn(w)
		return
	}
	writeReply(w, rp)
}

// dropConn closes the connection without an answer.
func dropConn(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// HTTP/2 or a wrapped writer: abort the stream, net/http handles it.
	panic(http.ErrAbortHandler)
}

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

// handle authenticates, rate-limits and routes one API request.
func (s *Server) handle(r *http.Request, path string, arrived time.Time) reply {
	key := r.Header.Get(SubscriptionKeyHeader)
	s.mu.Lock()
	if key == "" {
		s.stats.Unauthorized++
		s.mu.Unlock()
		return problemReply(http.StatusUnauthorized, "Unauthorized", "Access denied due to missing subscription key.")
	}
	svc, ok := s.serviceFor(key)
	if !ok {
		s.stats.Unauthorized++
		s.mu.Unlock()
		return problemReply(http.StatusUnauthorized, "Unauthorized", "Access denied due to invalid subscription key.")
	}
	if rp, limited := s.rateLimitLocked(key, arrived); limited {
		s.mu.Unlock()
		return rp
	}
	if !svc.Allowed {
		s.stats.Forbidden++
		s.mu.Unlock()
		return problemReply(http.StatusForbidden, "Forbidden", "The service is not allowed to use this API.")
	}
	s.mu.Unlock()

	parts := strings.Split(strings.Trim(path, "/"), "/")
	switch {
	case len(parts) == 2 && parts[0] == "profiles" && r.Method == http.MethodGet:
		return s.getProfile(parts[1])
	case len(parts) == 1 && parts[0] == "profiles" && r.Method == http.MethodPost:
		var body struct {
			FiscalCode *string `json:"fiscal_code"`
		}
		if rp, ok := s.decode(r, &body, "Invalid FiscalCodePayload"); !ok {
			return rp
		}
		if body.FiscalCode == nil {
			return s.invalid("Invalid FiscalCodePayload", "fiscal_code", "required")
		}
		return s.getProfile(*body.FiscalCode)
	case len(parts) == 1 && parts[0] == "messages" && r.Method == http.MethodPost:
		return s.submit(r, svc, "")
	case len(parts) == 2 && parts[0] == "messages" && r.Method == http.MethodPost:
		return s.submit(r, svc, parts[1])
	case len(parts) == 3 && parts[0] == "messages" && r.Method == http.MethodGet:
		return s.getMessage(svc, parts[1], parts[2])
	case parts[0] == "profiles" || parts[0] == "messages":
		return problemReply(http.StatusMethodNotAllowed, "Method Not Allowed", r.Method+" is not supported here")
	}
	s.count(func(st *Stats) { st.NotFound++ })
	return problemReply(http.StatusNotFound, "Not Found", "no such operation")
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

// Hijack lets dropConn close the connection through the wrapper.
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
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return s.invalid(title, te.Field, "must be of type "+jsonType(te.Type.Kind().String())), false
		}
		return s.invalid(title, "body", "not a JSON object"), false
	}
	return reply{}, true
}

func jsonType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "integer"
	case kind == "ptr":
		return "object"
	}
	return kind
}

func (s *Server) getProfile(fc string) reply {
	if !fiscalCodeRE.MatchString(fc) {
		return s.invalid("Invalid FiscalCode", "fiscal_code", "must match the fiscal code pattern")
	}
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
	fc := pathFC
	if fc == "" {
		if nm.FiscalCode == nil {
			return s.invalid(title, "fiscal_code", "required")
		}
		fc = *nm.FiscalCode
	}
	if f, rule := nm.validate(fc); f != "" {
		return s.invalid(title, f, rule)
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
	if nm.Content.DueDate != nil {
		t, _ := time.Parse(time.RFC3339Nano, *nm.Content.DueDate)
		t = t.UTC()
		m.DueDate = &t
	}
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
	lose := false
	if s.loseN > 0 {
		s.loseN--
		s.stats.Dropped++
		lose = true
	}
	return reply{
		status: http.StatusCreated,
		header: http.Header{"Location": {BasePath + "/messages/" + fc + "/" + m.ID}},
		body:   map[string]string{"id": m.ID},
		lose:   lose,
	}
}

func (s *Server) getMessage(svc Service, fc, id string) reply {
	if !fiscalCodeRE.MatchString(fc) {
		return s.invalid("Invalid FiscalCode", "fiscal_code", "must match the fiscal code pattern")
	}
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

// faultsRequest is the body of POST /__mock/faults; absent fields are left
// unchanged.
type faultsRequest struct {
	FailNext         *int     `json:"fail_next"`
	FailStatus       int      `json:"fail_status"`
	DropNext         *int     `json:"drop_next"`
	LoseResponseNext *int     `json:"lose_response_next"`
	LatencyMS        *int     `json:"latency_ms"`
	ErrorRate        *float64 `json:"error_rate"`
	Seed             uint64   `json:"seed"`
	RateLimit        *int     `json:"rate_limit"`
	RateWindowMS     int      `json:"rate_window_ms"`
	ProcessAfterMS   *int     `json:"process_after_ms"`
}

// serveInspect serves GET /__mock/messages, GET /__mock/requests, GET /__mock/stats,
// POST /__mock/reset and POST /__mock/faults.
func (s *Server) serveInspect(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/__mock/messages" && r.Method == http.MethodGet:
		writeReply(w, reply{status: http.StatusOK, body: s.Messages()})
	case r.URL.Path == "/__mock/requests" && r.Method == http.MethodGet:
		writeReply(w, reply{status: http.StatusOK, body: s.Requests()})
	case r.URL.Path == "/__mock/stats" && r.Method == http.MethodGet:
		writeReply(w, reply{status: http.StatusOK, body: s.Stats()})
	case r.URL.Path == "/__mock/reset" && r.Method == http.MethodPost:
		s.Reset()
		w.WriteHeader(http.StatusNoContent)
	case r.URL.Path == "/__mock/faults" && r.Method == http.MethodPost:
		var f faultsRequest
		if err := json.NewDecoder(io.LimitReader(r.Body, maxBody)).Decode(&f); err != nil {
			writeReply(w, problemReply(http.StatusBadRequest, "Bad Request", "invalid faults JSON"))
			return
		}
		if f.FailNext != nil {
			code := f.FailStatus
			if code < 400 || code > 599 {
				code = http.StatusInternalServerError
			}
			s.FailNext(*f.FailNext, code)
		}
		if f.DropNext != nil {
			s.DropNext(*f.DropNext)
		}
		if f.LoseResponseNext != nil {
			s.LoseResponseNext(*f.LoseResponseNext)
		}
		if f.LatencyMS != nil {
			s.SetLatency(time.Duration(*f.LatencyMS) * time.Millisecond)
		}
		if f.ErrorRate != nil {
			s.SetErrorRate(*f.ErrorRate, f.Seed)
		}
		if f.ProcessAfterMS != nil {
			s.SetProcessAfter(time.Duration(*f.ProcessAfterMS) * time.Millisecond)
		}
		if f.RateLimit != nil {
			s.SetRateLimit(*f.RateLimit, time.Duration(f.RateWindowMS)*time.Millisecond)
		}
		w.WriteHeader(http.StatusNoContent)
	default:
		writeReply(w, problemReply(http.StatusNotFound, "Not Found", "no such mock endpoint"))
	}
}
