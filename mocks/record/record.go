// Package record writes down every call a system under test makes to the
// mocks — request, response and the verdict of the official contract on
// both — as JSON lines, one file per mock, so that a comune's CI can show
// that its own integration speaks GPD and App IO as the platforms do
// (`ponte mocks --record DIR`, then `ponte mocks report DIR`).
//
// The verdict is the contract's, reached here independently of the mock's
// own checks: a request the mock refused shows the rule it broke, and a
// request the mock let through but the contract forbids is still caught.
package record

import (
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ponte-pa/ponte/schemas/contracts"
)

// SummaryFile is the name of the summary `ponte mocks --record` writes
// beside the recorded calls.
const SummaryFile = "summary.json"

// MaxBody bounds the bytes of a body read and kept in a record; a longer
// body is recorded cut, with Truncated set.
const MaxBody = 1 << 20

// redacted replaces the values of headers that carry credentials: a
// recording is evidence to share, and secrets are never written down.
var redacted = []string{"Authorization", "Cookie", "Set-Cookie", "Proxy-Authorization", "Ocp-Apim-Subscription-Key"}

// Entry is one recorded call.
type Entry struct {
	Seq      int64     `json:"seq"`
	Time     time.Time `json:"time"`
	Mock     string    `json:"mock"`
	Request  Message   `json:"request"`
	Response Message   `json:"response"`
	Verdict  Verdict   `json:"verdict"`
}

// Message is a recorded request or response.
type Message struct {
	Method  string              `json:"method,omitempty"`
	URL     string              `json:"url,omitempty"`
	Status  int                 `json:"status,omitempty"`
	Headers map[string][]string `json:"headers,omitempty"`
	// Body is a JSON body as it was (compacted), or any other text body as
	// a JSON string; BodyBase64 holds a binary body.
	Body       json.RawMessage `json:"body,omitempty"`
	BodyBase64 string          `json:"bodyBase64,omitempty"`
	Truncated  bool            `json:"truncated,omitempty"`
}

// Verdict is the contract's judgement of one call.
type Verdict struct {
	// Contract is the contract's file name; "" when the mock has none (the
	// call is recorded unjudged).
	Contract string `json:"contract,omitempty"`
	// Operation is the contract's operationId the request matched.
	Operation string `json:"operation,omitempty"`
	// Conforms is true when the request and the response keep the
	// contract, and for a call with no contract to judge it.
	Conforms bool `json:"conforms"`
	// Request and Response list the rules each broke.
	Request  []string `json:"request,omitempty"`
	Response []string `json:"response,omitempty"`
	// Unjudged says why a call was not judged (no contract, no operation).
	Unjudged string `json:"unjudged,omitempty"`
}

// Recorder writes entries under a directory, one file per mock
// (<mock>.jsonl). It is safe for concurrent use.
type Recorder struct {
	dir string

	mu    sync.Mutex
	seq   int64
	files map[string]*os.File
	err   error
}

// Count is how many calls a mock received, how many broke the contract
// and how many had none to judge them.
type Count struct {
	Calls      int `json:"calls"`
	Violations int `json:"violations"`
	Unjudged   int `json:"unjudged"`
}

// New creates dir if needed and returns a recorder writing under it. The
// files of an earlier recording in dir are replaced.
func New(dir string) (*Recorder, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	old, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, fmt.Errorf("record: %w", err)
	}
	for _, f := range append(old, filepath.Join(dir, SummaryFile)) {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("record: an earlier recording stays in the way: %w", err)
		}
	}
	return &Recorder{dir: dir, files: map[string]*os.File{}}, nil
}

// Dir is where the recorder writes.
func (r *Recorder) Dir() string { return r.dir }

// Close closes the files and returns the first error met while writing.
func (r *Recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	err := r.err
	for _, f := range r.files {
		err = errors.Join(err, f.Close())
	}
	r.files = map[string]*os.File{}
	return err
}

func (r *Recorder) write(e *Entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seq++
	e.Seq = r.seq
	f := r.files[e.Mock]
	if f == nil {
		var err error
		if f, err = os.Create(filepath.Join(r.dir, e.Mock+".jsonl")); err != nil {
			r.err = cmp.Or(r.err, fmt.Errorf("record: %w", err))
			return
		}
		r.files[e.Mock] = f
	}
	b, err := json.Marshal(e)
	if err != nil {
		r.err = cmp.Or(r.err, fmt.Errorf("record: %w", err))
		return
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		r.err = cmp.Or(r.err, fmt.Errorf("record: %w", err))
	}
}

// Judge is how the calls to a mock are judged.
type Judge struct {
	// Contract judges requests and responses; nil records them unjudged.
	Contract *contracts.Validator
	// Uncovered, when set, returns why a request is outside Contract (it
	// belongs to another API of the mock, with no contract to judge it),
	// "" when Contract covers it.
	Uncovered func(*http.Request) string
}

// Wrap records every call h serves for mock, judged by j. Calls to the
// mocks' own control API (/__mock/) are not the system under test's and
// are not recorded.
func (r *Recorder) Wrap(mock string, j Judge, h http.Handler) http.Handler {
	v := j.Contract
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if strings.HasPrefix(req.URL.Path, "/__mock/") {
			h.ServeHTTP(w, req)
			return
		}
		e := &Entry{Time: time.Now().UTC(), Mock: mock}
		var body []byte
		if req.Body != nil && req.Body != http.NoBody {
			b, err := io.ReadAll(io.LimitReader(req.Body, MaxBody+1))
			// What was read goes on to the mock, then the rest unread.
			req.Body = struct {
				io.Reader
				io.Closer
			}{io.MultiReader(bytes.NewReader(b), req.Body), req.Body}
			if err == nil {
				body = b
			}
		}
		e.Request = message(req.Header, body)
		e.Request.Method, e.Request.URL = req.Method, req.URL.RequestURI()

		var x *contracts.Exchange
		var why string
		if j.Uncovered != nil {
			why = j.Uncovered(req)
		}
		switch {
		case v == nil:
			e.Verdict = Verdict{Conforms: true, Unjudged: "the mock has no contract"}
		case why != "":
			e.Verdict = Verdict{Conforms: true, Unjudged: why}
		default:
			e.Verdict.Contract = v.Name()
			var err error
			x, err = v.Request(req, body)
			switch {
			case len(body) > MaxBody:
				x = nil
				e.Verdict.Conforms = true
				e.Verdict.Unjudged = fmt.Sprintf("request body over %d bytes", MaxBody)
			case x == nil:
				// A call the contract does not have fails on the platform
				// too (the mock answers 404 or 405).
				e.Verdict.Request = problems(err)
				if len(e.Verdict.Request) == 0 {
					e.Verdict.Request = []string{"no operation of the contract matches"}
				}
			default:
				e.Verdict.Operation = x.Operation()
				e.Verdict.Request = problems(err)
			}
		}

		cw := &capture{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(cw, req)
		e.Response = message(w.Header(), cw.body.Bytes())
		e.Response.Status = cw.status
		e.Response.Truncated = e.Response.Truncated || cw.cut
		if x != nil {
			if cw.cut {
				e.Verdict.Response = []string{fmt.Sprintf("response body over %d bytes: not judged", MaxBody)}
			} else {
				e.Verdict.Response = problems(x.Response(cw.status, w.Header(), cw.body.Bytes()))
			}
			e.Verdict.Conforms = len(e.Verdict.Request) == 0 && len(e.Verdict.Response) == 0
		}
		r.write(e)
	})
}

func problems(err error) []string {
	if err == nil {
		return nil
	}
	var v *contracts.Violation
	if !errors.As(err, &v) {
		return []string{err.Error()}
	}
	var out []string
	for _, p := range v.Problems() {
		out = append(out, p.String())
	}
	if len(out) == 0 {
		out = []string{v.Error()}
	}
	return out
}

// message records headers (credentials redacted) and a body.
func message(h http.Header, body []byte) Message {
	m := Message{Headers: map[string][]string{}}
	for k, vs := range h {
		if slices.ContainsFunc(redacted, func(r string) bool { return strings.EqualFold(r, k) }) {
			m.Headers[k] = []string{"[redacted]"}
			continue
		}
		m.Headers[k] = slices.Clone(vs)
	}
	if len(m.Headers) == 0 {
		m.Headers = nil
	}
	if len(body) > MaxBody {
		body, m.Truncated = body[:MaxBody], true
	}
	if len(body) == 0 {
		return m
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	if !m.Truncated && (mt == "application/json" || strings.HasSuffix(mt, "+json")) && json.Valid(body) {
		var b bytes.Buffer
		if json.Compact(&b, body) == nil {
			m.Body = b.Bytes()
			return m
		}
	}
	if utf8.Valid(body) {
		s, err := json.Marshal(string(body))
		if err == nil {
			m.Body = s
			return m
		}
	}
	m.BodyBase64 = base64.StdEncoding.EncodeToString(body)
	return m
}

// capture keeps the status and up to MaxBody bytes of what a handler writes.
type capture struct {
	http.ResponseWriter
	status  int
	written bool
	body    bytes.Buffer
	cut     bool
}

func (c *capture) WriteHeader(status int) {
	if !c.written {
		c.status, c.written = status, true
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *capture) Write(b []byte) (int, error) {
	c.written = true
	room := MaxBody - c.body.Len()
	if len(b) > room {
		c.cut = true
	}
	if room > 0 {
		c.body.Write(b[:min(room, len(b))])
	}
	return c.ResponseWriter.Write(b)
}

// Flush passes a flush on, for handlers that stream.
func (c *capture) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Summary is what a recording holds, by mock, with the calls that broke
// the contract; `ponte mocks --record` writes it as summary.json.
type Summary struct {
	Mocks map[string]Count `json:"mocks"`
	// Violations are the calls that broke the contract, in order.
	Violations []Entry `json:"violations,omitempty"`
}

// Conforms reports whether no recorded call broke its contract.
func (s Summary) Conforms() bool { return len(s.Violations) == 0 }

// Read reads back every entry recorded under dir, by mock, in the order
// the calls were recorded. A malformed line is an error naming its file
// and line.
func Read(dir string) (map[string][]Entry, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	if err != nil {
		return nil, err
	}
	out := map[string][]Entry{}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		for i, line := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(line)) == 0 {
				continue
			}
			var e Entry
			if err := json.Unmarshal(line, &e); err != nil {
				return nil, fmt.Errorf("%s:%d: not a recorded call: %w", name, i+1, err)
			}
			out[e.Mock] = append(out[e.Mock], e)
		}
	}
	return out, nil
}

// Summarize reads the recording under dir and says what it holds.
func Summarize(dir string) (Summary, error) {
	all, err := Read(dir)
	if err != nil {
		return Summary{}, err
	}
	s := Summary{Mocks: map[string]Count{}}
	for mock, es := range all {
		c := Count{Calls: len(es)}
		for _, e := range es {
			switch {
			case e.Verdict.Unjudged != "":
				c.Unjudged++
			case !e.Verdict.Conforms:
				c.Violations++
				s.Violations = append(s.Violations, e)
			}
		}
		s.Mocks[mock] = c
	}
	slices.SortFunc(s.Violations, func(a, b Entry) int { return int(a.Seq - b.Seq) })
	return s, nil
}

// Describe is one line per rule broken by a recorded call, for people.
func (e Entry) Describe() []string {
	var out []string
	call := fmt.Sprintf("#%d %s %s %s", e.Seq, e.Mock, e.Request.Method, e.Request.URL)
	if e.Verdict.Operation != "" {
		call += " (" + e.Verdict.Operation + ")"
	}
	for _, p := range e.Verdict.Request {
		out = append(out, call+": request: "+p)
	}
	for _, p := range e.Verdict.Response {
		out = append(out, fmt.Sprintf("%s: response %d: %s", call, e.Response.Status, p))
	}
	return out
}
