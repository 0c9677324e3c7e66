package crmmock

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	webhookmock "github.com/ponte-pa/ponte/mocks/webhook"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func call(t *testing.T, method, url, token, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
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
	var out map[string]any
	if resp.StatusCode != http.StatusNoContent {
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s %s: %d, body not JSON: %v", method, url, resp.StatusCode, err)
		}
	}
	return resp.StatusCode, out
}

func TestTicketsScheduleAndWebhook(t *testing.T) {
	clk := &clock{t: time.Now()}
	hook := webhookmock.New(webhookmock.Options{Now: clk.now})
	hooks := httptest.NewServer(hook)
	defer hooks.Close()
	s := New(Options{Now: clk.now, InChargeAfter: time.Hour, ResolvedAfter: 2 * time.Hour,
		WebhookURL: hooks.URL + "/crm", WebhookSecret: webhookmock.DefaultSecret})
	srv := httptest.NewServer(s)
	defer srv.Close()

	if code, _ := call(t, "POST", srv.URL+"/api/tickets", "wrong", `{"externalId":"SR-1"}`); code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code, _ := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"description":"x"}`); code != http.StatusUnprocessableEntity {
		t.Fatalf("no externalId: %d", code)
	}
	code, first := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-1","description":"Buca"}`)
	if code != http.StatusCreated || first["id"] != "T-000001" || first["status"] != StatusNew {
		t.Fatalf("create: %d %v", code, first)
	}
	code, again := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-1","description":"Buca"}`)
	if code != http.StatusOK || again["id"] != "T-000001" {
		t.Fatalf("same reference: %d %v", code, again)
	}
	clk.add(time.Hour)
	if _, got := call(t, "GET", srv.URL+"/api/tickets/T-000001", DefaultToken, ""); got["status"] != StatusInProgress {
		t.Fatalf("after an hour: %v", got)
	}
	if code, _ := call(t, "POST", srv.URL+"/__mock/tickets/T-000001/status", "", `{"status":"REJECTED","note":"Area privata"}`); code != http.StatusNoContent {
		t.Fatalf("status on demand: %d", code)
	}
	if code, _ := call(t, "POST", srv.URL+"/__mock/tickets/T-000001/status", "", `{"status":"CLOSED"}`); code != http.StatusBadRequest {
		t.Fatalf("unknown status: %d", code)
	}
	clk.add(2 * time.Hour) // the schedule does not reopen a rejected ticket
	if _, got := call(t, "GET", srv.URL+"/api/tickets/T-000001", DefaultToken, ""); got["status"] != StatusRejected || got["note"] != "Area privata" {
		t.Fatalf("after rejection: %v", got)
	}
	if code, _ := call(t, "GET", srv.URL+"/api/tickets/T-000009", DefaultToken, ""); code != http.StatusNotFound {
		t.Fatalf("unknown ticket: %d", code)
	}
	// Two changes, two signed deliveries the receiver accepted.
	got := hook.Deliveries()
	if len(got) != 2 || s.Stats().Webhooks != 2 || s.Stats().WebhookFails != 0 {
		t.Fatalf("deliveries %+v, stats %+v, receiver %+v", got, s.Stats(), hook.Stats())
	}
	var ev Event
	if err := json.Unmarshal(got[1].Body, &ev); err != nil {
		t.Fatal(err)
	}
	if got[0].EventID != "T-000001-2" || ev.EventID != "T-000001-3" || ev.Ticket.Status != StatusRejected || got[1].Path != "/crm" {
		t.Errorf("deliveries: %s %s %+v", got[0].EventID, got[1].EventID, ev)
	}
	if st := s.Stats(); st.Created != 1 || st.Duplicates != 1 || st.Unauthorized != 1 {
		t.Errorf("stats %+v", st)
	}
}

func TestWebhookWrongSecretIsCounted(t *testing.T) {
	hook := webhookmock.New(webhookmock.Options{})
	hooks := httptest.NewServer(hook)
	defer hooks.Close()
	s := New(Options{WebhookURL: hooks.URL, WebhookSecret: "another-secret-entirely"})
	srv := httptest.NewServer(s)
	defer srv.Close()
	if code, _ := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-2"}`); code != http.StatusCreated {
		t.Fatal(code)
	}
	if err := s.SetStatus("T-000001", StatusResolved, ""); err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); st.WebhookFails != 1 || hook.Stats().BadSignature != 1 {
		t.Errorf("stats %+v, receiver %+v", st, hook.Stats())
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{})
	srv := httptest.NewServer(s)
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/__mock/faults", "application/json", bytes.NewReader([]byte(`{"failNext":1,"failStatus":503}`)))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if code, body := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-3"}`); code != http.StatusServiceUnavailable || body["detail"] == nil {
		t.Fatalf("injected: %d %v", code, body)
	}
	if code, _ := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-3"}`); code != http.StatusCreated {
		t.Fatalf("after the fault: %d", code)
	}
	if n := len(s.Tickets()); n != 1 {
		t.Errorf("%d tickets", n)
	}
}
