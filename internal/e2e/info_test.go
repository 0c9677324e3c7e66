package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/gateway/infopage"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
	"github.com/ponte-pa/ponte/workflows/info"
)

func infoDefinition(t *testing.T, id, spread string, batch int) *info.Definition {
	t.Helper()
	d, err := info.ParseDefinition("info.yaml", []byte(fmt.Sprintf(`id: %s
topic: eventi
title: {it: "Festa di primavera in piazza", en: "Spring festival in the square"}
text:
  it: "Sabato 21 marzo dalle 10 alle 18 la piazza del Comune ospita la festa di primavera: musica, mercato e giochi per i bambini."
  en: "On Saturday 21 March, from 10am to 6pm, the town square hosts the spring festival: music, a market and games for children."
channels: [{kind: appio, purpose: news}, {kind: email}, {kind: sms}]
spread: %s
batchSize: %d
area: {istat: ["099999"]}
`, id, spread, batch)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// httpDo makes one request to the unsubscribe page and returns its body.
func httpDo(t *testing.T, method, u string, form url.Values, want int) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
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
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d: %s", method, u, resp.StatusCode, want, b)
	}
	return string(b)
}

// TestInfoCampaignConsentAndUnsubscribe: an information campaign reaches
// only the people who consented to its topic, each once, in their
// language, with a working unsubscribe link; an unsubscribe during the
// campaign (through the HTTP endpoint) stops that person's message in the
// next batch; the withdrawal is in the exported evidence with its time and
// source; the report adds up; a later campaign on the topic skips both.
func TestInfoCampaignConsentAndUnsubscribe(t *testing.T) {
	ps := fixtures.Residents(60, 5)
	consenting := map[string]bool{}
	for i := range ps {
		switch i % 3 {
		case 0:
			ps[i].Topics = "viabilita"
		default:
			ps[i].Topics = "eventi,viabilita"
			consenting[ps[i].ID] = true
		}
	}
	e := newAlertEnv(t, ps, 5, smsmock.Options{})
	ctx := context.Background()
	st, err := info.NewStore(ctx, e.rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	pages := &infopage.Pages{Store: st}
	mux := http.NewServeMux()
	pages.MountTenant(mux, "/t/"+e.tenant.ID, e.tenant)
	gw := httptest.NewServer(mux)
	t.Cleanup(gw.Close)
	public := gw.URL + "/t/" + e.tenant.ID

	// 40 consenting people in batches of 10, one every 1.5 s.
	d := infoDefinition(t, "festa-1", "6s", 10)
	start := func(d *info.Definition) {
		t.Helper()
		if _, err := e.rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: info.WorkflowID(e.tenant.ID, d.ID), TaskQueue: info.Queue},
			info.WorkflowName, info.Input{TenantID: e.tenant.ID, Definition: d, PublicURL: public, Origin: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	progress := func(id string) info.Progress {
		t.Helper()
		var p info.Progress
		v, err := e.rt.Client.QueryWorkflow(ctx, info.WorkflowID(e.tenant.ID, id), "", info.QueryProgress)
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Get(&p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	start(d)
	deadline := time.Now().Add(time.Minute)
	for p := progress(d.ID); p.BatchesDone < 1; p = progress(d.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("no batch sent: %+v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := progress(d.ID); p.BatchesDone >= 4 {
		t.Fatalf("the campaign was not spread: %+v", p)
	}
	// A person of the first batch follows the link in their App IO message.
	link := regexp.MustCompile(`\((http[^)]+/info/unsubscribe\?token=[^)]+)\)`)
	var firstLink, firstFC string
	for _, m := range e.mocks.IO.Messages() {
		if l := link.FindStringSubmatch(m.Markdown); l != nil {
			firstLink, firstFC = l[1], m.FiscalCode
			break
		}
	}
	if firstLink == "" {
		t.Fatalf("no App IO message with an unsubscribe link: %+v", e.mocks.IO.Messages())
	}
	// The operator pauses it, so that the unsubscribes below land
	// between batches whatever the machine's load.
	if err := e.rt.Client.SignalWorkflow(ctx, info.WorkflowID(e.tenant.ID, d.ID), "", info.SignalPause, nil); err != nil {
		t.Fatal(err)
	}
	for p := progress(d.ID); p.Phase != info.StatePaused; p = progress(d.ID) {
		if time.Now().After(deadline) {
			t.Fatalf("never paused: %+v", p)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if p := progress(d.ID); p.BatchesDone >= 4 {
		t.Fatalf("paused after the last batch: %+v", p)
	}
	page := httpDo(t, http.MethodGet, firstLink, nil, http.StatusOK)
	if !strings.Contains(page, "Revoca il consenso") || !strings.Contains(page, "Unsubscribe") || !strings.Contains(page, "eventi") {
		t.Fatalf("confirmation page is not bilingual: %s", page)
	}
	u, err := url.Parse(firstLink)
	if err != nil {
		t.Fatal(err)
	}
	unsubscribe := func(token string) {
		t.Helper()
		done := httpDo(t, http.MethodPost, gw.URL+u.Path, url.Values{"token": {token}}, http.StatusOK)
		if !strings.Contains(done, "Fatto") || !strings.Contains(done, "Done") {
			t.Fatalf("withdrawal page: %s", done)
		}
	}
	unsubscribe(u.Query().Get("token"))
	// A tampered link records nothing.
	httpDo(t, http.MethodPost, gw.URL+u.Path, url.Values{"token": {u.Query().Get("token") + "x"}}, http.StatusBadRequest)
	// A person of the last batch (the 35th consenting, on App IO)
	// unsubscribes before their message goes.
	var b fixtures.Resident
	n := 0
	for _, p := range ps {
		if consenting[p.ID] {
			if n++; n >= 35 && p.FiscalCode != "" && p.OnIO && p.Channels == "appio" {
				b = p
				break
			}
		}
	}
	if b.ID == "" {
		t.Fatal("no App IO person in the last batch")
	}
	key, err := info.KeyFor(e.tenant)
	if err != nil {
		t.Fatal(err)
	}
	unsubscribe(info.Sign(key, info.Claims{Tenant: e.tenant.ID, Campaign: d.ID, Subject: "residenti/" + b.ID, Topic: "eventi"}))
	if err := e.rt.Client.SignalWorkflow(ctx, info.WorkflowID(e.tenant.ID, d.ID), "", info.SignalResume, nil); err != nil {
		t.Fatal(err)
	}
	var p info.Progress
	if err := e.rt.Client.GetWorkflow(ctx, info.WorkflowID(e.tenant.ID, d.ID), "").Get(ctx, &p); err != nil {
		t.Fatal(err)
	}
	if p.Phase != info.StateDone || p.BatchesDone != 4 || p.Stage.Recipients != 40 || p.Stage.Imported != 40 {
		t.Fatalf("progress %+v", p)
	}
	if p.Withdrawn != 1 {
		t.Errorf("withdrawn during the campaign %d, want 1 (the person of the last batch)", p.Withdrawn)
	}
	// The spread: the batches went over the window, not at once.
	if gap := p.SentAt[3].Sub(p.SentAt[0]); gap < 4*time.Second {
		t.Errorf("batches went within %v, want the 6 s window", gap)
	}
	// Only consenting people got it, each once; the English speakers in English.
	got := map[string]int{}
	for _, m := range e.mocks.IO.Messages() {
		got[m.FiscalCode]++
		if !strings.Contains(m.Markdown, "/info/unsubscribe?token=") {
			t.Errorf("App IO message without an unsubscribe link: %q", m.Markdown)
		}
	}
	for _, x := range ps {
		if x.FiscalCode == "" {
			continue
		}
		if got[x.FiscalCode] > 1 || got[x.FiscalCode] == 1 && !consenting[x.ID] {
			t.Errorf("%s (consenting %v) got %d App IO messages", x.ID, consenting[x.ID], got[x.FiscalCode])
		}
	}
	if got[b.FiscalCode] != 0 {
		t.Errorf("the person who unsubscribed before their batch got the message")
	}
	if got[firstFC] != 1 {
		t.Errorf("the first person got %d messages", got[firstFC])
	}
	for _, m := range e.mocks.IO.Messages() {
		for _, x := range ps {
			if x.FiscalCode == m.FiscalCode && x.Lang == "en" && m.Subject != "Spring festival in the square" {
				t.Errorf("English speaker %s got %q", x.ID, m.Subject)
			}
		}
	}
	sent := 0
	for _, v := range p.Sent {
		sent += v
	}
	if delivered := len(e.mocks.IO.Messages()) + len(e.mocks.SMTP.Messages()) + len(e.mocks.Mock(smsmock.Kind).(*smsmock.Server).Messages()); delivered != sent {
		t.Errorf("the mocks hold %d messages, the campaign counts %d sent", delivered, sent)
	}
	// The report adds up and is kept.
	saved, err := st.SavedReport(ctx, e.tenant.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	var r info.Report
	if err := json.Unmarshal([]byte(saved), &r); err != nil {
		t.Fatal(err)
	}
	if r.Outcomes["sent"]+r.Outcomes["withdrawn"]+r.Outcomes["unreachable"]+r.Outcomes["not_sent"] != 40 || r.Outcomes["not_sent"] != 0 ||
		r.Outcomes["sent"] != sent || len(r.Unsubscribed) != 2 {
		t.Errorf("report %+v", r)
	}
	// The evidence: both withdrawals with their time and source, after the
	// grants imported from residenti.csv with their lines.
	var csv strings.Builder
	cs, err := st.Consents(ctx, e.tenant.ID, "eventi")
	if err != nil {
		t.Fatal(err)
	}
	if err := info.WriteConsentCSV(&csv, cs); err != nil {
		t.Fatal(err)
	}
	out := csv.String()
	if n := strings.Count(out, ";granted;"); n != 40 {
		t.Errorf("%d grants in the evidence, want 40", n)
	}
	if !strings.Contains(out, ";residenti line 3;") {
		t.Errorf("the grant of R000001 does not name its source line (3: header, R000000):\n%s", out)
	}
	withdrawals := 0
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, ";withdrawn;") {
			withdrawals++
			if !strings.Contains(line, "unsubscribe link, campaign festa-1") || !strings.Contains(line, time.Now().UTC().Format("2006-01-02T")) {
				t.Errorf("withdrawal without its source or time: %s", line)
			}
		}
	}
	if withdrawals != 2 || !strings.Contains(out, "residenti/"+b.ID) {
		t.Errorf("evidence has %d withdrawals:\n%s", withdrawals, out)
	}
	// A later campaign on the topic skips both, and imports nothing again.
	d2 := infoDefinition(t, "festa-2", "0s", 50)
	start(d2)
	var p2 info.Progress
	if err := e.rt.Client.GetWorkflow(ctx, info.WorkflowID(e.tenant.ID, d2.ID), "").Get(ctx, &p2); err != nil {
		t.Fatal(err)
	}
	if p2.Stage.Recipients != 38 || p2.Stage.Withdrawn != 2 || p2.Stage.Imported != 0 {
		t.Errorf("second campaign staged %+v", p2.Stage)
	}
}
