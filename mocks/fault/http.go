package fault

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"time"
)

// HTTPOptions say how a mock answers an injected failure, and which of its
// requests faults apply to.
type HTTPOptions struct {
	// Problem writes a failure in the mock's own error shape, for failures
	// without a Body; nil writes the status text as plain text.
	Problem func(w http.ResponseWriter, status int, detail string)
	// Applies reports whether faults apply to r; nil means every request
	// but the /__mock/ inspection API.
	Applies func(r *http.Request) bool
	// ChangesState reports whether r may change the mock's state, i.e.
	// whether its response may be lost (LoseNext); nil means every method
	// but GET, HEAD and OPTIONS. A mock with reads sent by POST says so.
	ChangesState func(r *http.Request) bool
}

// Detail is the detail of an injected failure's body.
const Detail = "fault injected by the mock"

// Middleware serves the fault control at Path and puts the injector's
// faults in front of next: latency, then a dropped connection or a failure
// instead of next, or — for a state-changing request next answers with a
// 2xx — the response lost after next applied it.
func (i *Injector) Middleware(next http.Handler, o HTTPOptions) http.Handler {
	applies, changes := o.Applies, o.ChangesState
	if applies == nil {
		applies = func(r *http.Request) bool { return !strings.HasPrefix(r.URL.Path, "/__mock/") }
	}
	if changes == nil {
		changes = changesState
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == Path {
			i.ServeHTTP(w, r)
			return
		}
		if !applies(r) {
			next.ServeHTTP(w, r)
			return
		}
		f := i.Next()
		if f.Latency > 0 && !wait(r, f.Latency) {
			return
		}
		switch f.Kind {
		case Drop:
			DropConnection(w)
			return
		case Fail:
			writeFailure(w, f.Failure, o.Problem)
			return
		}
		if !changes(r) || !i.LosePending() {
			next.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code >= 200 && rec.Code < 300 && i.LoseApplied() {
			DropConnection(w)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
	})
}

// changesState reports whether r may change the mock's state: anything
// but the safe methods.
func changesState(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// wait holds r back for d; it reports false when the client went away.
func wait(r *http.Request, d time.Duration) bool {
	// net/http notices a client that goes away (and cancels r.Context())
	// only once the request body has been read.
	if r.Body != nil && r.Body != http.NoBody {
		b, err := io.ReadAll(io.LimitReader(r.Body, 16<<20))
		if err != nil {
			return false
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}

func writeFailure(w http.ResponseWriter, f Failure, problem func(http.ResponseWriter, int, string)) {
	status := f.Status
	if status == 0 {
		status = http.StatusInternalServerError
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
	}
	switch {
	case f.Body != "":
		ct := f.ContentType
		if ct == "" {
			ct = "text/plain; charset=utf-8"
		}
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = io.WriteString(w, f.Body)
	case problem != nil:
		problem(w, status, Detail)
	default:
		http.Error(w, http.StatusText(status)+": "+Detail, status)
	}
}

// DropConnection closes the client's connection without an answer. Through
// HTTP/2 or a writer that cannot be hijacked it aborts the response, which
// net/http turns into a reset stream.
func DropConnection(w http.ResponseWriter) {
	if conn, _, err := http.NewResponseController(w).Hijack(); err == nil {
		_ = conn.Close()
		return
	}
	panic(http.ErrAbortHandler)
}

// ServeHTTP is the fault control: GET shows the State, POST applies a JSON
// Settings and DELETE resets; POST and DELETE answer the new State.
func (i *Injector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPost:
		var s Settings
		dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&s); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "faults: malformed settings: " + err.Error()})
			return
		}
		if err := i.Apply(s); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "faults: " + err.Error()})
			return
		}
	case http.MethodDelete:
		i.Reset()
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		writeJSON(w, http.StatusMethodNotAllowed, map[string]string{"error": "faults: use GET, POST or DELETE"})
		return
	}
	writeJSON(w, http.StatusOK, i.State())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
