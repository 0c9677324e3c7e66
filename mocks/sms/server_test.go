package smsmock

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestGateway(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := New(Options{DeliverAfter: 30 * time.Second, Unreachable: []string{"+393330000000"}, Now: clock})
	srv := httptest.NewServer(s)
	defer srv.Close()
	do := func(method, path, token, body string) (int, map[string]string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]string
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	for _, tt := range []struct {
		name, token, body string
		want              int
	}{
		{"sent", DefaultToken, `{"to":"+393331234567","from":"Comune","text":"Allerta","reference":"r1"}`, 201},
		{"same reference", DefaultToken, `{"to":"+393331234567","from":"Comune","text":"Allerta","reference":"r1"}`, 200},
		{"no token", "", `{"to":"+393331234567","from":"Comune","text":"x"}`, 401},
		{"national number", DefaultToken, `{"to":"3331234567","from":"Comune","text":"x"}`, 400},
		{"unknown field", DefaultToken, `{"to":"+393331234567","from":"Comune","text":"x","flash":true}`, 400},
		{"empty text", DefaultToken, `{"to":"+393331234567","from":"Comune","text":" "}`, 400},
		{"unreachable", DefaultToken, `{"to":"+393330000000","from":"Comune","text":"x"}`, 422},
	} {
		if got, out := do("POST", "/messages", tt.token, tt.body); got != tt.want {
			t.Errorf("%s: %d %v, want %d", tt.name, got, out, tt.want)
		}
	}
	if _, out := do("GET", "/messages/sms-000001", DefaultToken, ""); out["status"] != "accepted" {
		t.Errorf("at once: %v", out)
	}
	mu.Lock()
	now = now.Add(31 * time.Second)
	mu.Unlock()
	if _, out := do("GET", "/messages/sms-000001", DefaultToken, ""); out["status"] != "delivered" {
		t.Errorf("after 31 s: %v", out)
	}
	if got, _ := do("GET", "/messages/sms-000099", DefaultToken, ""); got != 404 {
		t.Errorf("unknown id: %d", got)
	}
	if m := s.Messages(); len(m) != 1 || m[0].Resent != 1 {
		t.Errorf("messages %+v", m)
	}
}
