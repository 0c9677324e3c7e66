package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway"
	"github.com/ponte-pa/ponte/internal/gateway/open311"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	crmmock "github.com/ponte-pa/ponte/mocks/crm"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/workflows/reports"
)

// demoReporter is who files the demo's report, anonymously.
const demoReporter = "giulia.bianchi@example.it"

// demoReportResult is what the citizen-report part of the demo checked.
type demoReportResult struct {
	ID       string
	Progress reports.Progress
	Status   string   // as GET requests/{id}.json shows it
	Messages []string // the subjects the citizen got
}

// demoReportsConfig routes the sample comune's reports to the CRM mock
// (the "rest" kind, its token in secrets/crm.token) and polls it every
// second, so that the demo's report reaches resolution in seconds.
func demoReportsConfig(tenantPath, crmURL string) error {
	dir := filepath.Dir(tenantPath)
	if err := os.WriteFile(filepath.Join(dir, "secrets", "crm.token"), []byte(crmmock.DefaultToken), 0o600); err != nil {
		return err
	}
	data, err := os.ReadFile(tenantPath)
	if err != nil {
		return err
	}
	route := `{service: "*", kind: rest, config: {url: "` + crmURL + `/api/tickets", token: "file:secrets/crm.token",` +
		` fields: {description: description, serviceCode: category, address: location.address, lat: location.lat, long: location.lon, email: contact.email},` +
		` statusUrl: "` + crmURL + `/api/tickets/{id}", statuses: {NEW: forwarded, IN_PROGRESS: in_charge, RESOLVED: resolved, REJECTED: rejected, DUPLICATE: duplicate}}}`
	cfg := strings.Replace(string(data), "  pollInterval: 15m\n", "  pollInterval: 1s\n  routes:\n    - "+route+"\n", 1)
	if cfg == string(data) {
		return errors.New("the sample comune has no reports.pollInterval")
	}
	return os.WriteFile(tenantPath, []byte(cfg), 0o600)
}

// demoReports files a pothole report through the comune's Open311 API, as
// a citizen's app would, and follows it: forwarded to the CRM, taken in
// charge and resolved there by the office, with the e-mails the citizen got.
func demoReports(ctx context.Context, w io.Writer, rt *runtime.Runtime, mocks *mockset.Set, t *tenant.Tenant) (*demoReportResult, error) {
	fmt.Fprintln(w, "\nCitizen report (Open311 GeoReport v2) forwarded to the comune's CRM")
	crm, ok := mocks.Mock(crmmock.Kind).(*crmmock.Server)
	if !ok {
		return nil, errors.New("the CRM mock is not running")
	}
	st, err := reports.NewStore(ctx, rt.DB)
	if err != nil {
		return nil, err
	}
	in, err := open311.New(open311.Options{Store: st, OnReceived: reports.OnReceived(rt.Client)})
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	base := "http://" + l.Addr().String()
	mux := http.NewServeMux()
	in.MountTenant(mux, t, "/t/"+t.ID, base+"/t/"+t.ID, func(*http.Request) (*gateway.Citizen, error) {
		return nil, errors.New("anonymous") // the demo's citizen is not logged in
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(l) }() // ErrServerClosed at the Shutdown below
	defer func() { _ = srv.Shutdown(context.Background()) }()
	api := base + "/t/" + t.ID + open311.Path

	key, err := os.ReadFile(filepath.Join(t.Dir, "secrets", "open311-app.key"))
	if err != nil {
		return nil, err
	}
	v := url.Values{"api_key": {strings.TrimSpace(string(key))}, "service_code": {"buca-stradale"}, "lat": {"44.0612"}, "long": {"12.5662"},
		"address_string": {"Via Roma 1"}, "description": {"Buca profonda davanti al civico 1"}, "email": {demoReporter},
		"first_name": {"Giulia"}, "last_name": {"Bianchi"}, "attribute[dimensione]": {"grande"}}
	var created []struct {
		ID string `json:"service_request_id"`
	}
	if err := demoHTTP(ctx, http.MethodPost, api+"/requests.json", v, &created); err != nil {
		return nil, err
	}
	if len(created) != 1 || created[0].ID == "" {
		return nil, fmt.Errorf("POST requests.json answered %+v", created)
	}
	res := &demoReportResult{ID: created[0].ID}
	fmt.Fprintf(w, "POST %s/requests.json (buca-stradale, Via Roma 1, %s): service_request_id %s\n", api, demoReporter, res.ID)

	// The office works the ticket on the CRM (the CRM mock's status API).
	wait := func(want reports.State) (*reports.Report, error) {
		for end := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
			r, err := st.Get(ctx, res.ID)
			if err != nil {
				return nil, err
			}
			if r.State == want {
				return r, nil
			}
			if time.Now().After(end) {
				return nil, fmt.Errorf("report %s is %s, not %s, after 2 minutes", res.ID, r.State, want)
			}
		}
	}
	if _, err := wait(reports.StateForwarded); err != nil {
		return nil, err
	}
	ticket := ""
	for _, tk := range crm.Tickets() {
		if tk.ExternalID == res.ID {
			ticket = tk.ID
		}
	}
	if ticket == "" {
		return nil, fmt.Errorf("no ticket on the CRM for report %s", res.ID)
	}
	if err := crm.SetStatus(ticket, crmmock.StatusInProgress, ""); err != nil {
		return nil, err
	}
	if _, err := wait(reports.StateInCharge); err != nil {
		return nil, err
	}
	if err := crm.SetStatus(ticket, crmmock.StatusResolved, "Buca riparata il giorno stesso"); err != nil {
		return nil, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := rt.Client.GetWorkflow(wctx, reports.WorkflowID(t.ID, res.ID), "").Get(wctx, &res.Progress); err != nil {
		return nil, fmt.Errorf("the report's lifecycle: %w", err)
	}
	r, err := st.Get(ctx, res.ID)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "  %s  received   (Open311)\n", r.Requested.Local().Format(time.TimeOnly))
	for _, h := range res.Progress.History {
		line := fmt.Sprintf("  %s  %-10s (%s)", h.At.Local().Format(time.TimeOnly), h.State, h.Source)
		if h.State == reports.StateForwarded {
			line += " CRM ticket " + res.Progress.Ticket
		}
		if h.Note != "" {
			line += fmt.Sprintf(" %q", h.Note)
		}
		fmt.Fprintln(w, line)
	}
	var got []struct {
		Status string `json:"status"`
	}
	if err := demoHTTP(ctx, http.MethodGet, api+"/requests/"+url.PathEscape(res.ID)+".json", nil, &got); err != nil {
		return nil, err
	}
	if len(got) == 1 {
		res.Status = got[0].Status
	}
	fmt.Fprintf(w, "GET requests/%s.json: status %s\n", res.ID, res.Status)
	// Each change is told once; the last e-mail may still be on its way.
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		res.Messages = res.Messages[:0]
		for _, m := range mocks.SMTP.Messages() {
			if m.To == demoReporter {
				res.Messages = append(res.Messages, m.Subject)
			}
		}
		if len(res.Messages) >= len(res.Progress.History) || time.Now().After(end) {
			break
		}
	}
	fmt.Fprintf(w, "E-mails to %s:\n", demoReporter)
	for _, s := range res.Messages {
		fmt.Fprintf(w, "  %s\n", s)
	}
	return res, nil
}

// demoHTTP calls the Open311 API: a form for POST, JSON back into out.
func demoHTTP(ctx context.Context, method, u string, form url.Values, out any) error {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: %s: %s", method, u, resp.Status, b)
	}
	return json.Unmarshal(b, out)
}
