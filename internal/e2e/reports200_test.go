package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/ponte-pa/ponte/connectors/crm" // the "rest" CRM kind
	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/open311"
	"github.com/ponte-pa/ponte/internal/gateway/open311/open311test"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	crmmock "github.com/ponte-pa/ponte/mocks/crm"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// reporter200 is who filed one of TestTwoHundredReports' reports: a SPID
// citizen (fiscal code, App IO language) or an anonymous one (e-mail).
type reporter200 struct {
	fc, lang, email string
	service         string
	id              string
}

// cookieTransport adds the "citizen" cookie: the request is from a
// citizen logged in with SPID, as the gateway's CitizenFunc reads it here.
type cookieTransport struct{ fc string }

func (c cookieTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.AddCookie(&http.Cookie{Name: "citizen", Value: c.fc})
	return http.DefaultTransport.RoundTrip(r)
}

// TestTwoHundredReports: 200 reports filed through the Open311 API (JSON)
// of a live intake — half by SPID citizens with App IO profiles in Italian
// or English, half anonymous with an e-mail — are each filed once on the
// comune's CRM (the CRM mock through the "rest" route) though its first
// three calls fail with 503; as the CRM moves them to IN_PROGRESS and
// RESOLVED each citizen gets one message per change of state in their
// language (App IO or e-mail), and GET requests/{id}.json shows them
// closed. One category's take-in-charge deadline (2s) passes before the
// CRM takes its report in charge: the supervisor is told exactly once.
func TestTwoHundredReports(t *testing.T) {
	const n = 200
	began := time.Now()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(16, 200))
	rs := make([]*reporter200, n)
	profiles := map[string]appiomock.ProfileSpec{}
	for i := range rs {
		r := &reporter200{service: []string{"buca-stradale", "lampione-guasto"}[i%2]}
		if i%2 == 0 {
			r.fc, r.lang = fixtures.FiscalCode(rng), []string{"it", "en"}[(i/2)%2]
			profiles[r.fc] = appiomock.ProfileSpec{SenderAllowed: true, Languages: []string{map[string]string{"it": "it_IT", "en": "en_GB"}[r.lang]}}
		} else {
			r.email, r.lang = fmt.Sprintf("cittadino%03d@example.it", i), "it"
		}
		rs[i] = r
	}
	rs[n-1].service = "rifiuti-abbandonati" // the category with the short deadline
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{
		appiomock.Kind: appiomock.Options{Profiles: profiles},
		smtpmock.Kind:  mockset.SampleSMTP(dir),
		crmmock.Kind:   crmmock.Options{}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	crm, ok := mocks.Mock(crmmock.Kind).(*crmmock.Server)
	if !ok {
		t.Fatal("no CRM mock")
	}
	crmURL := mocks.URL(crmmock.Kind)
	path, err := tenant.WriteSample(dir, mocks.SampleVars())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "crm.token"), []byte(crmmock.DefaultToken), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	route := `{service: "*", kind: rest, config: {url: "` + crmURL + `/api/tickets", token: "file:secrets/crm.token",` +
		` fields: {description: description, serviceCode: category, address: location.address, email: contact.email},` +
		` statusUrl: "` + crmURL + `/api/tickets/{id}", statuses: {NEW: forwarded, IN_PROGRESS: in_charge, RESOLVED: resolved, REJECTED: rejected, DUPLICATE: duplicate}}}`
	cfg := strings.Replace(string(data), "    \"*\": {takeInCharge: 72h, resolve: 720h}\n",
		"    \"*\": {takeInCharge: 72h, resolve: 720h}\n    rifiuti-abbandonati: {takeInCharge: 2s, resolve: 720h}\n", 1)
	cfg = strings.Replace(cfg, "  pollInterval: 15m\n", "  pollInterval: 2s\n  ioPurpose: news\n  routes:\n    - "+route+"\n", 1)
	if strings.Count(cfg, "\n") != strings.Count(string(data), "\n")+4 {
		t.Fatal("the sample's reports section changed: sla or pollInterval not found")
	}
	path = filepath.Join(dir, "tenant-reports.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	tn, err := tenant.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	rt := startRuntime(t, path)
	ctx := context.Background()
	st, err := reports.NewStore(ctx, rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	in, err := open311.New(open311.Options{Store: st, OnReceived: reports.OnReceived(rt.Client)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	gw := httptest.NewServer(mux)
	t.Cleanup(gw.Close)
	in.MountTenant(mux, tn, "/t/esempio", gw.URL+"/t/esempio", func(r *http.Request) (*gateway.Citizen, error) {
		c, err := r.Cookie("citizen")
		if err != nil {
			return nil, err
		}
		return &gateway.Citizen{FiscalNumber: c.Value, Name: "Mario", FamilyName: "Rossi", Level: 2}, nil
	})
	api := gw.URL + "/t/esempio" + open311.Path
	anon := &open311test.Client{Base: api, Format: "json", APIKey: "demo-open311-key-not-secret"}

	crm.Faults().FailNext(3, http.StatusServiceUnavailable)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i, r := range rs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := anon
			v := url.Values{"service_code": {r.service}, "lat": {fmt.Sprintf("%.4f", 44.005+float64(i%20)*0.005)},
				"long": {fmt.Sprintf("%.4f", 12.505+float64(i/20)*0.012)}, "address_string": {fmt.Sprintf("Via Roma %d", i+1)},
				"description": {fmt.Sprintf("Segnalazione numero %d", i+1)}}
			switch r.service {
			case "buca-stradale":
				v.Set("attribute[dimensione]", "grande")
			case "lampione-guasto":
				v.Set("attribute[guasto]", "spento")
			}
			if r.fc != "" {
				c = &open311test.Client{Base: api, Format: "json", APIKey: anon.APIKey, HTTP: &http.Client{Transport: cookieTransport{r.fc}}}
			} else {
				v.Set("email", r.email)
			}
			got, err := c.Post(ctx, v)
			if err != nil {
				errs <- fmt.Errorf("report %d: %w", i, err)
				return
			}
			if got.ServiceRequestID == "" {
				errs <- fmt.Errorf("report %d: no service_request_id (token %q)", i, got.Token)
				return
			}
			r.id = got.ServiceRequestID
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	filed := time.Since(began)

	// waitState waits until every report is at least in state want.
	waitState := func(want reports.State, limit time.Duration) {
		t.Helper()
		end := time.Now().Add(limit)
		for {
			behind := 0
			var last string
			for _, r := range rs {
				got, err := st.Get(ctx, r.id)
				if err != nil {
					t.Fatal(err)
				}
				if got.State != want {
					behind++
					last = fmt.Sprintf("%s is %s", r.id, got.State)
				}
			}
			if behind == 0 {
				return
			}
			if time.Now().After(end) {
				t.Fatalf("%d reports not %s after %s (%s)", behind, want, limit, last)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	waitState(reports.StateForwarded, 60*time.Second)
	forwarded := time.Since(began)
	tickets := crm.Tickets()
	byRef := map[string]string{}
	for _, tk := range tickets {
		if _, dup := byRef[tk.ExternalID]; dup {
			t.Errorf("report %s has two tickets", tk.ExternalID)
		}
		byRef[tk.ExternalID] = tk.ID
	}
	if len(tickets) != n {
		t.Errorf("%d tickets on the CRM, want %d", len(tickets), n)
	}

	// The short deadline passes while the report waits on the CRM.
	sup := "urp@comune.esempio.it"
	escalations := func() []smtpmock.Message {
		var out []smtpmock.Message
		for _, m := range mocks.SMTP.Messages() {
			if m.To == sup || strings.Contains(m.To, sup) {
				out = append(out, m)
			}
		}
		return out
	}
	for end := time.Now().Add(30 * time.Second); len(escalations()) == 0; time.Sleep(250 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("no escalation to the supervisor")
		}
	}

	for _, state := range []struct {
		crm  string
		want reports.State
	}{{crmmock.StatusInProgress, reports.StateInCharge}, {crmmock.StatusResolved, reports.StateResolved}} {
		for _, r := range rs {
			tk, ok := byRef[r.id]
			if !ok {
				t.Fatalf("report %s has no ticket", r.id)
			}
			note := ""
			if state.crm == crmmock.StatusResolved {
				note = "Intervento eseguito"
			}
			if err := crm.SetStatus(tk, state.crm, note); err != nil {
				t.Fatal(err)
			}
		}
		waitState(state.want, 60*time.Second)
	}
	resolved := time.Since(began)

	// Each citizen gets one message per change, in their language: wait
	// for the last ones (a state is stored just before it is told).
	var io, mail map[string][]string
	subjectsOf := func(r *reporter200) []string {
		if r.fc == "" {
			return mail[r.email]
		}
		return io[r.fc]
	}
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(250 * time.Millisecond) {
		io, mail = map[string][]string{}, map[string][]string{}
		for _, m := range mocks.IO.Messages() {
			io[m.FiscalCode] = append(io[m.FiscalCode], m.Subject)
		}
		for _, m := range mocks.SMTP.Messages() {
			mail[m.To] = append(mail[m.To], m.Subject)
		}
		waiting := 0
		for _, r := range rs {
			if len(subjectsOf(r)) < 3 {
				waiting++
			}
		}
		if waiting == 0 || time.Now().After(end) {
			break
		}
	}
	told := time.Since(began)
	words := map[string][]string{"it": {"inoltrata", "presa in carico", "risolta"}, "en": {"forwarded", "taken in charge", "resolved"}}
	for _, r := range rs {
		subjects := subjectsOf(r)
		if len(subjects) != 3 {
			t.Errorf("report %s (%s%s): %d messages %q, want 3", r.id, r.fc, r.email, len(subjects), subjects)
			continue
		}
		for k, w := range words[r.lang] {
			if !strings.Contains(subjects[k], w) || !strings.Contains(subjects[k], r.id) {
				t.Errorf("report %s message %d %q, want %q in %s", r.id, k, subjects[k], w, r.lang)
			}
		}
	}
	// The Open311 API shows every report closed.
	for _, r := range rs {
		got, err := anon.Request(ctx, r.id)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 1 || got[0].Status != "closed" || got[0].StatusNotes != "Intervento eseguito" {
			t.Fatalf("GET requests/%s.json: %+v", r.id, got)
		}
	}
	// Exactly one escalation, of the report whose deadline passed (the
	// messages above were counted after every report was closed and told).
	esc := escalations()
	if len(esc) != 1 || !strings.Contains(esc[0].Subject, rs[n-1].id) || !strings.Contains(esc[0].Subject, "presa in carico") {
		var subs []string
		for _, m := range esc {
			subs = append(subs, m.Subject)
		}
		t.Errorf("supervisor messages %q, want one for %s", subs, rs[n-1].id)
	}
	if nio, nmail := len(mocks.IO.Messages()), len(mocks.SMTP.Messages()); nio != 3*n/2 || nmail != 3*n/2+1 {
		t.Errorf("%d App IO and %d e-mail messages, want %d and %d", nio, nmail, 3*n/2, 3*n/2+1)
	}
	s := crm.Stats()
	t.Logf("%d reports: filed in %s, all forwarded at %s, all resolved at %s, all told at %s; CRM: %d created, %d duplicate posts; %d App IO, %d e-mail messages",
		n, filed.Round(time.Millisecond), forwarded.Round(time.Millisecond), resolved.Round(time.Millisecond), told.Round(time.Millisecond), s.Created, s.Duplicates, len(mocks.IO.Messages()), len(mocks.SMTP.Messages()))
}
