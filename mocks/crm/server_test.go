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

// answer is the status and JSON body of a call.
type answer struct {
	code int
	body map[string]any
}

func call(t *testing.T, method, url, token, body string) answer {
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
	return answer{resp.StatusCode, out}
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

	if code := call(t, "POST", srv.URL+"/api/tickets", "wrong", `{"externalId":"SR-1"}`).code; code != http.StatusUnauthorized {
		t.Fatalf("wrong token: %d", code)
	}
	if code := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"description":"x"}`).code; code != http.StatusUnprocessableEntity {
		t.Fatalf("no externalId: %d", code)
	}
	a := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-1","description":"Buca"}`)
	if a.code != http.StatusCreated || a.body["id"] != "T-000001" || a.body["status"] != StatusNew {
		t.Fatalf("create: %d %v", a.code, a.body)
	}
	a = call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-1","description":"Buca"}`)
	if a.code != http.StatusOK || a.body["id"] != "T-000001" {
		t.Fatalf("same reference: %d %v", a.code, a.body)
	}
	clk.add(time.Hour)
	if got := call(t, "GET", srv.URL+"/api/tickets/T-000001", DefaultToken, "").body; got["status"] != StatusInProgress {
		t.Fatalf("after an hour: %v", got)
	}
	if code := call(t, "POST", srv.URL+"/__mock/tickets/T-000001/status", "", `{"status":"REJECTED","note":"Area privata"}`).code; code != http.StatusNoContent {
		t.Fatalf("status on demand: %d", code)
	}
	if code := call(t, "POST", srv.URL+"/__mock/tickets/T-000001/status", "", `{"status":"CLOSED"}`).code; code != http.StatusBadRequest {
		t.Fatalf("unknown status: %d", code)
	}
	clk.add(2 * time.Hour) // the schedule does not reopen a rejected ticket
	if got := call(t, "GET", srv.URL+"/api/tickets/T-000001", DefaultToken, "").body; got["status"] != StatusRejected || got["note"] != "Area privata" {
		t.Fatalf("after rejection: %v", got)
	}
	if code := call(t, "GET", srv.URL+"/api/tickets/T-000009", DefaultToken, "").code; code != http.StatusNotFound {
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
	if code := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-2"}`).code; code != http.StatusCreated {
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
	if a := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-3"}`); a.code != http.StatusServiceUnavailable || a.body["detail"] == nil {
		t.Fatalf("injected: %d %v", a.code, a.body)
	}
	if code := call(t, "POST", srv.URL+"/api/tickets", DefaultToken, `{"externalId":"SR-3"}`).code; code != http.StatusCreated {
		t.Fatalf("after the fault: %d", code)
	}
	if n := len(s.Tickets()); n != 1 {
		t.Errorf("%d tickets", n)
	}
}
