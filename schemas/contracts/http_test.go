package contracts

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func problem(w http.ResponseWriter, status int, title, detail string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(map[string]any{"title": title, "status": status, "detail": detail}); err != nil {
		panic(err)
	}
}

// profiles answers GET /api/v1/profiles/{fc} with body, counting calls.
type profiles struct {
	t     testing.TB
	mu    sync.Mutex
	calls int
	body  string
}

func (p *profiles) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	p.calls++
	p.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Mock", "yes")
	if _, err := io.WriteString(w, p.body); err != nil {
		p.t.Error(err)
	}
}

func TestGuard(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		key        string
		body       string // what the guarded handler answers
		wantStatus int
		wantCalls  int
		wantBroken bool
		wantDetail string
	}{
		{"valid exchange passes", "/api/v1/profiles/SPNDNL80R13C555X", "k", `{"sender_allowed":true}`, 200, 1, false, ""},
		{"bad request is refused before the handler", "/api/v1/profiles/nope", "k", `{"sender_allowed":true}`, 400, 0, false, "fiscal_code"},
		{"missing key is refused", "/api/v1/profiles/SPNDNL80R13C555X", "", `{"sender_allowed":true}`, 400, 0, false, "Ocp-Apim-Subscription-Key"},
		{"broken response becomes a 500", "/api/v1/profiles/SPNDNL80R13C555X", "k", `{"sender_allowed":"yes"}`, 500, 1, true, "sender_allowed"},
		{"no operation reaches the handler unjudged", "/api/v1/nowhere", "k", `whatever`, 200, 1, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := &profiles{t: t, body: tt.body}
			var broken []*Violation
			srv := httptest.NewServer(AppIO().Guard(h, GuardOptions{
				Refuse: func(w http.ResponseWriter, _ *http.Request, v *Violation) {
					problem(w, 400, "Bad Request", v.Error())
				},
				Broken: func(w http.ResponseWriter, _ *http.Request, v *Violation) {
					broken = append(broken, v)
					problem(w, 500, "Internal Server Error", v.Error())
				},
			}))
			defer srv.Close()
			req, err := http.NewRequest("GET", srv.URL+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tt.key != "" {
				req.Header.Set(key, tt.key)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.wantStatus || h.calls != tt.wantCalls || (len(broken) > 0) != tt.wantBroken {
				t.Fatalf("status %d calls %d broken %v; want %d %d %v; body %s", resp.StatusCode, h.calls, broken, tt.wantStatus, tt.wantCalls, tt.wantBroken, b)
			}
			if tt.wantDetail != "" && !strings.Contains(string(b), tt.wantDetail) {
				t.Errorf("body %s does not mention %q", b, tt.wantDetail)
			}
			if resp.StatusCode == 200 && (string(b) != tt.body || resp.Header.Get("X-Mock") != "yes") {
				t.Errorf("passed-through answer changed: %s %v", b, resp.Header)
			}
		})
	}
}

func TestTransport(t *testing.T) {
	h := &profiles{t: t, body: `{"sender_allowed":1}`}
	srv := httptest.NewServer(h)
	defer srv.Close()
	var got []error
	tr := &Transport{Validator: AppIO(), Report: func(err error) { got = append(got, err) },
		Skip: func(r *http.Request) bool { return strings.HasPrefix(r.URL.Path, "/__mock/") }}
	get := func(path string, key string) {
		t.Helper()
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
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || string(b) != h.body {
			t.Fatalf("body %q %v", b, err)
		}
	}
	get("/api/v1/profiles/SPNDNL80R13C555X", "k")
	get("/__mock/stats", "")
	get("/api/v1/profiles/SPNDNL80R13C555X", "")
	var viol *Violation
	if len(got) != 3 || !errors.As(got[0], &viol) || viol.Status != 200 || viol.Operation != "getProfile" {
		t.Fatalf("violations %v", got)
	}
	if !strings.Contains(got[1].Error(), "Ocp-Apim-Subscription-Key") || !errors.As(got[1], &viol) || viol.Status != 0 {
		t.Errorf("missing key: %v", got[1])
	}
	if req, resp := tr.Checked(); req != 2 || resp != 2 {
		t.Errorf("checked %d requests, %d responses; want 2, 2", req, resp)
	}
	// A connection that fails still has its request judged.
	srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/api/v1/profiles/bad", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Ocp-Apim-Subscription-Key", "k")
	if _, err := tr.Client().Do(req); err == nil {
		t.Fatal("request to a closed server succeeded")
	}
	if len(got) != 4 || !strings.Contains(got[3].Error(), "fiscal_code") {
		t.Errorf("request to a closed server: %v", got)
	}
}
