package contractstest

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ponte-pa/ponte/schemas/contracts"
)

// recorder is a testing.TB that keeps what Errorf was told.
type recorder struct {
	testing.TB
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func TestViolationsFailTheTest(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		body := `{"sender_allowed":"maybe"}`
		if strings.HasSuffix(r.URL.Path, "X") {
			body = `{"sender_allowed":true}`
		}
		if _, err := io.WriteString(w, body); err != nil {
			t.Error(err)
		}
	}))
	defer srv.Close()
	rec := &recorder{TB: t}
	tr := New(rec, contracts.AppIO(), nil, func(r *http.Request) bool { return r.URL.Path == "/skipped" })
	get := func(path, key string) {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if key != "" {
			req.Header.Set("Ocp-Apim-Subscription-Key", key)
		}
		resp, err := tr.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	steps := []struct {
		name         string
		allow        bool
		path, key    string
		wantErrs     int
		wantRecorded int
	}{
		{"valid", false, "/api/v1/profiles/SPNDNL80R13C555X", "k", 0, 0},
		{"skipped", false, "/skipped", "", 0, 0},
		{"bad request fails the test", false, "/api/v1/profiles/SPNDNL80R13C555X", "", 1, 1},
		{"allowed bad request is only recorded", true, "/api/v1/profiles/SPNDNL80R13C555X", "", 1, 2},
		{"bad response fails the test even when allowed", true, "/api/v1/profiles/SPNDNL80R13C555Y", "k", 2, 2},
	}
	for _, s := range steps {
		tr.AllowInvalidRequests(s.allow)
		get(s.path, s.key)
		if len(rec.errs) != s.wantErrs || len(tr.RequestViolations()) != s.wantRecorded {
			t.Fatalf("%s: errors %q, recorded %v", s.name, rec.errs, tr.RequestViolations())
		}
	}
}
