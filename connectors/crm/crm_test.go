package crm_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/crm"
	"github.com/ponte-pa/ponte/connectors/failure"
	"github.com/ponte-pa/ponte/connectors/registry"
	crmmock "github.com/ponte-pa/ponte/mocks/crm"
	open311mock "github.com/ponte-pa/ponte/mocks/open311"
	"github.com/ponte-pa/ponte/schemas"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// env resolves env:NAME references from secrets.
func env(secrets map[string]string) registry.Env {
	return registry.Env{Secret: func(ref string) (string, error) {
		if v, ok := secrets[strings.TrimPrefix(ref, "env:")]; ok {
			return v, nil
		}
		return "", fmt.Errorf("secret %s not set", ref)
	}}
}

func report(id string) *reports.Report {
	return &reports.Report{ID: id, Tenant: "c_a944", ServiceCode: "illuminazione", Description: "Lampione spento in via Irnerio",
		Address: "Via Irnerio 10, Bologna", HasLocation: true, Lat: 44.4991, Long: 11.3522,
		Requested:  time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC),
		Reporter:   reports.Reporter{Email: "mario.rossi@example.it", FirstName: "Mario"},
		Attributes: map[string][]string{"tipo": {"lampione"}}}
}

func restConfig(url string) string {
	return `{"kind": "rest", "url": "` + url + `/api/tickets", "token": "env:CRM_TOKEN",
		"fields": {"description": "description", "serviceCode": "category", "lat": "location.lat", "long": "location.lon",
			"address": "location.address", "email": "contact.email", "attribute.tipo": "details.tipo"},
		"statusUrl": "` + url + `/api/tickets/{id}", "statuses": {"NEW": "forwarded", "IN_PROGRESS": "in_charge", "RESOLVED": "resolved",
			"REJECTED": "rejected", "DUPLICATE": "duplicate"}}`
}

func openCRM(t *testing.T, kind, cfg string, secrets map[string]string) reports.CRM {
	t.Helper()
	c, err := reports.CRMs.Open(kind, json.RawMessage(cfg), env(secrets))
	if err != nil {
		t.Fatal(err)
	}
	if c.Kind() != kind {
		t.Fatalf("Kind() = %q, want %q", c.Kind(), kind)
	}
	return c
}

// clock is a settable time for the mocks' schedules.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestRESTForwardOnce(t *testing.T) {
	m := crmmock.New(crmmock.Options{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	c := openCRM(t, crm.KindREST, restConfig(srv.URL), map[string]string{"CRM_TOKEN": crmmock.DefaultToken})
	r := report("SR-1")
	first, err := c.Forward(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Forward(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if first == "" || again != first {
		t.Fatalf("tickets %q then %q, want one", first, again)
	}
	tickets := m.Tickets()
	if len(tickets) != 1 || m.Stats().Duplicates != 1 {
		t.Fatalf("the CRM has %d tickets, stats %+v", len(tickets), m.Stats())
	}
	var got struct {
		ExternalID, Description, Category string
		Location                          struct{ Lat, Lon float64 }
		Contact                           struct{ Email string }
		Details                           struct{ Tipo string }
	}
	if err := json.Unmarshal(tickets[0].Data, &got); err != nil {
		t.Fatal(err)
	}
	if got.ExternalID != "SR-1" || got.Category != "illuminazione" || got.Location.Lat != 44.4991 || got.Location.Lon != 11.3522 ||
		got.Contact.Email != "mario.rossi@example.it" || got.Details.Tipo != "lampione" || got.Description != r.Description {
		t.Errorf("ticket = %s", tickets[0].Data)
	}
}

func TestRESTStatus(t *testing.T) {
	clk := &clock{t: time.Date(2026, 12, 2, 9, 0, 0, 0, time.UTC)}
	m := crmmock.New(crmmock.Options{Now: clk.Now, InChargeAfter: time.Hour, ResolvedAfter: 3 * time.Hour})
	srv := httptest.NewServer(m)
	defer srv.Close()
	c := openCRM(t, crm.KindREST, restConfig(srv.URL), map[string]string{"CRM_TOKEN": crmmock.DefaultToken})
	ctx := context.Background()
	ticket, err := c.Forward(ctx, report("SR-2"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := c.Forward(ctx, report("SR-3"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name  string
		do    func() error
		id    string
		state reports.State
		note  string
	}{
		{"new", nil, ticket, reports.StateForwarded, ""},
		{"in charge after an hour", func() error { clk.Add(time.Hour); return nil }, ticket, reports.StateInCharge, ""},
		{"resolved after three", func() error { clk.Add(2 * time.Hour); return nil }, ticket, reports.StateResolved, ""},
		{"rejected on demand", func() error { return m.SetStatus(other, crmmock.StatusRejected, "Non di competenza comunale") }, other, reports.StateRejected, "Non di competenza comunale"},
		{"duplicate on demand", func() error { return m.SetStatus(other, crmmock.StatusDuplicate, "Vedi T-000001") }, other, reports.StateDuplicate, "Vedi T-000001"},
	}
	for _, s := range steps {
		if s.do != nil {
			if err := s.do(); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
		st, note, err := c.Status(ctx, s.id)
		if err != nil || st != s.state || note != s.note {
			t.Errorf("%s: Status = %q, %q, %v; want %q, %q", s.name, st, note, err, s.state, s.note)
		}
	}
	if _, _, err := c.Status(ctx, "T-999999"); !failure.IsPermanent(err) {
		t.Errorf("unknown ticket: %v, want a permanent error", err)
	}
}

func TestRESTUnmappedStatus(t *testing.T) {
	m := crmmock.New(crmmock.Options{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	cfg := strings.Replace(restConfig(srv.URL), `, "DUPLICATE": "duplicate"`, "", 1)
	c := openCRM(t, crm.KindREST, cfg, map[string]string{"CRM_TOKEN": crmmock.DefaultToken})
	id, err := c.Forward(context.Background(), report("SR-4"))
	if err != nil {
		t.Fatal(err)
	}
	if err := m.SetStatus(id, crmmock.StatusDuplicate, ""); err != nil {
		t.Fatal(err)
	}
	_, _, err = c.Status(context.Background(), id)
	if !failure.IsPermanent(err) || !strings.Contains(err.Error(), `"DUPLICATE" is not in statuses`) {
		t.Fatalf("Status = %v, want a permanent error naming DUPLICATE", err)
	}
}

func TestRESTFailures(t *testing.T) {
	m := crmmock.New(crmmock.Options{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	ctx := context.Background()

	bad := openCRM(t, crm.KindREST, restConfig(srv.URL), map[string]string{"CRM_TOKEN": "wrong-token-1234"})
	_, err := bad.Forward(ctx, report("SR-5"))
	var he interface{ Failure() failure.Info }
	if !failure.IsPermanent(err) || !errors.As(err, &he) || !strings.Contains(err.Error(), "401") {
		t.Fatalf("bad token: %v, want a permanent 401", err)
	}
	if strings.Contains(err.Error(), "wrong-token-1234") {
		t.Errorf("the error shows the token: %v", err)
	}

	c := openCRM(t, crm.KindREST, restConfig(srv.URL), map[string]string{"CRM_TOKEN": crmmock.DefaultToken})
	m.Faults().FailNext(1, http.StatusServiceUnavailable)
	_, err = c.Forward(ctx, report("SR-6"))
	if !failure.IsRetryable(err) || !strings.Contains(err.Error(), "503") {
		t.Fatalf("503: %v, want retryable", err)
	}
	id, err := c.Forward(ctx, report("SR-6"))
	if err != nil || id == "" {
		t.Fatalf("after the 503: %q, %v", id, err)
	}
	m.Faults().FailNext(1, http.StatusServiceUnavailable)
	if _, _, err := c.Status(ctx, id); !failure.IsRetryable(err) {
		t.Fatalf("status 503: %v, want retryable", err)
	}
	gone := httptest.NewServer(m)
	gone.Close()
	down := openCRM(t, crm.KindREST, restConfig(gone.URL), map[string]string{"CRM_TOKEN": crmmock.DefaultToken})
	if _, _, err := down.Status(ctx, id); !failure.IsRetryable(err) {
		t.Fatalf("status without an answer: %v, want retryable", err)
	}
	if _, err := down.Forward(ctx, report("SR-8")); !failure.IsAmbiguous(err) {
		t.Fatalf("forward without an answer: %v, want ambiguous", err)
	}
	// The CRM files the ticket and the answer is lost: ambiguous, and the
	// retry gets the same ticket by the client reference.
	m.Faults().LoseNext(1)
	_, err = c.Forward(ctx, report("SR-7"))
	if !failure.IsAmbiguous(err) {
		t.Fatalf("lost answer: %v, want ambiguous", err)
	}
	lost, err := c.Forward(ctx, report("SR-7"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(m.Tickets()); n != 2 || m.Tickets()[1].ID != lost || m.Tickets()[1].ExternalID != "SR-7" {
		t.Errorf("tickets %+v, want SR-6 and SR-7 (%s) once each", m.Tickets(), lost)
	}
}

func TestOpen311ForwardOnce(t *testing.T) {
	m := open311mock.New(open311mock.Options{ReferenceAttribute: "ponte_ref"})
	srv := httptest.NewServer(m)
	defer srv.Close()
	c := openCRM(t, crm.KindOpen311, open311Config(srv.URL, ""), map[string]string{"KEY": open311mock.DefaultAPIKey})
	r := report("SR-10")
	first, err := c.Forward(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.Forward(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if first == "" || again != first {
		t.Fatalf("ids %q then %q, want one", first, again)
	}
	reqs := m.Requests()
	if len(reqs) != 1 || m.Posts() != 2 {
		t.Fatalf("%d requests after %d posts", len(reqs), m.Posts())
	}
	got := reqs[0]
	if got.ServiceCode != "004" || got.Lat == nil || *got.Lat != 44.4991 || got.Attributes["ponte_ref"] != "SR-10" ||
		got.Attributes["tipo"] != "lampione" || got.Email != "mario.rossi@example.it" || got.Address != r.Address {
		t.Errorf("request = %+v", got)
	}
}

func open311Config(url, extra string) string {
	return `{"kind": "open311", "url": "` + url + `", "apiKey": "env:KEY", "serviceCodes": {"illuminazione": "004"},
		"referenceAttribute": "ponte_ref", "notes": [{"match": "respint", "state": "rejected"}, {"match": "duplicat", "state": "duplicate"}]` + extra + `}`
}

func TestOpen311Status(t *testing.T) {
	m := open311mock.New(open311mock.Options{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	c := openCRM(t, crm.KindOpen311, open311Config(srv.URL, ""), map[string]string{"KEY": open311mock.DefaultAPIKey})
	ctx := context.Background()
	id, err := c.Forward(ctx, report("SR-11"))
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		status, notes string
		want          reports.State
	}{
		{"", "", reports.StateForwarded},
		{"open", "Presa in carico dall'ufficio strade", reports.StateForwarded},
		{"closed", "Lampione riparato", reports.StateResolved},
		{"closed", "Segnalazione respinta: area privata", reports.StateRejected},
		{"closed", "Duplicata della 1001", reports.StateDuplicate},
	}
	for _, s := range steps {
		if s.status != "" {
			if err := m.SetStatus(id, s.status, s.notes); err != nil {
				t.Fatal(err)
			}
		}
		st, note, err := c.Status(ctx, id)
		if err != nil || st != s.want || note != s.notes {
			t.Errorf("%s %q: Status = %q, %q, %v; want %q", s.status, s.notes, st, note, err, s.want)
		}
	}
	inCharge := openCRM(t, crm.KindOpen311, open311Config(srv.URL, `, "openState": "in_charge"`), map[string]string{"KEY": open311mock.DefaultAPIKey})
	if err := m.SetStatus(id, "open", ""); err != nil {
		t.Fatal(err)
	}
	if st, _, err := inCharge.Status(ctx, id); err != nil || st != reports.StateInCharge {
		t.Errorf("openState in_charge: %q, %v", st, err)
	}
}

func TestOpen311Token(t *testing.T) {
	m := open311mock.New(open311mock.Options{TokenOnly: true, TokenReads: 1})
	srv := httptest.NewServer(m)
	defer srv.Close()
	ctx := context.Background()
	secrets := map[string]string{"KEY": open311mock.DefaultAPIKey}
	c := openCRM(t, crm.KindOpen311, open311Config(srv.URL, ""), secrets)
	c.(*crm.Open311).PollEvery = time.Millisecond
	id, err := c.Forward(ctx, report("SR-12"))
	if err != nil || id != "1001" {
		t.Fatalf("Forward = %q, %v; want the id after one 404 on tokens/", id, err)
	}
	// A server slower than the polls: the ticket is the token until
	// it has an id.
	none := openCRM(t, crm.KindOpen311, open311Config(srv.URL, `, "tokenPolls": 0`), secrets)
	ticket, err := none.Forward(ctx, report("SR-13"))
	if err != nil || ticket != crm.TokenPrefix+"tok-2" {
		t.Fatalf("Forward = %q, %v; want the token", ticket, err)
	}
	if st, _, err := none.Status(ctx, ticket); err != nil || st != reports.StateForwarded {
		t.Fatalf("before the id: %q, %v", st, err)
	}
	if st, _, err := none.Status(ctx, ticket); err != nil || st != reports.StateForwarded || len(m.Requests()) != 2 || m.Requests()[1].ID != "1002" {
		t.Fatalf("once the id is assigned: %q, %v, %+v", st, err, m.Requests())
	}
	if err := m.SetStatus("1002", "closed", "Fatto"); err != nil {
		t.Fatal(err)
	}
	if st, note, err := none.Status(ctx, ticket); err != nil || st != reports.StateResolved || note != "Fatto" {
		t.Fatalf("after the id: %q, %q, %v", st, note, err)
	}
}

func TestOpen311Failures(t *testing.T) {
	m := open311mock.New(open311mock.Options{})
	srv := httptest.NewServer(m)
	defer srv.Close()
	ctx := context.Background()
	bad := openCRM(t, crm.KindOpen311, open311Config(srv.URL, ""), map[string]string{"KEY": "not-the-key-5678"})
	_, err := bad.Forward(ctx, report("SR-20"))
	if !failure.IsPermanent(err) || !strings.Contains(err.Error(), "api_key") {
		t.Fatalf("bad key: %v, want a permanent error about the api_key", err)
	}
	if strings.Contains(err.Error(), "not-the-key-5678") {
		t.Errorf("the error shows the key: %v", err)
	}
	c := openCRM(t, crm.KindOpen311, open311Config(srv.URL, ""), map[string]string{"KEY": open311mock.DefaultAPIKey})
	m.Faults().FailNext(1, http.StatusServiceUnavailable)
	if _, err := c.Forward(ctx, report("SR-21")); !failure.IsRetryable(err) {
		t.Fatalf("503: %v, want retryable", err)
	}
	id, err := c.Forward(ctx, report("SR-21"))
	if err != nil {
		t.Fatal(err)
	}
	m.Faults().FailNext(1, http.StatusServiceUnavailable)
	if _, _, err := c.Status(ctx, id); !failure.IsRetryable(err) {
		t.Fatalf("status 503: %v, want retryable", err)
	}
	unknown := report("SR-22")
	unknown.ServiceCode = "teletrasporto"
	if _, err := c.Forward(ctx, unknown); !failure.IsPermanent(err) || !strings.Contains(err.Error(), "teletrasporto") {
		t.Fatalf("unknown service: %v, want a permanent error naming it", err)
	}
}

// Bad configs are refused when the tenant config is loaded, with the
// pointer of the bad field.
func TestBadConfig(t *testing.T) {
	ok := restConfig("https://crm.example.it")
	tests := []struct {
		name, kind, cfg string
		want            []string
	}{
		{"rest http", crm.KindREST, strings.Replace(ok, `"url": "https://crm.example.it/api/tickets"`, `"url": "http://crm.example.it/api/tickets"`, 1), []string{"/url: pattern: must be an https URL"}},
		{"rest no {id}", crm.KindREST, strings.Replace(ok, `/api/tickets/{id}`, `/api/tickets/`, 1), []string{"/statusUrl: pattern:", "{id}"}},
		{"rest bad state", crm.KindREST, strings.Replace(ok, `"RESOLVED": "resolved"`, `"RESOLVED": "closed"`, 1), []string{"/statuses/RESOLVED: enum"}},
		{"rest unknown field", crm.KindREST, strings.Replace(ok, `"description": "description"`, `"colour": "description"`, 1), []string{"/fields", "must be a report field"}},
		{"rest colliding paths", crm.KindREST, strings.Replace(ok, `"email": "contact.email"`, `"email": "location.lat.email"`, 1), []string{"/fields/lat: path: location.lat collides with fields/email (location.lat.email)"}},
		{"rest no token", crm.KindREST, strings.Replace(ok, `"token": "env:CRM_TOKEN",`, ``, 1), []string{"token"}},
		{"open311 no key", crm.KindOpen311, `{"kind": "open311", "url": "https://crm.example.it/open311/v2"}`, []string{"apiKey"}},
		{"open311 bad note state", crm.KindOpen311, `{"kind": "open311", "url": "https://crm.example.it/v2", "apiKey": "env:KEY", "notes": [{"match": "x", "state": "open"}]}`, []string{"/notes/0/state: enum"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := reports.CRMs.Open(tt.kind, json.RawMessage(tt.cfg), env(map[string]string{"CRM_TOKEN": "x", "KEY": "y"}))
			var ve *schemas.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Open = %v, want a ValidationError", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
		})
	}
	if _, err := reports.CRMs.Open(crm.KindREST, json.RawMessage(ok), env(nil)); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("unresolvable token: %v", err)
	}
}
