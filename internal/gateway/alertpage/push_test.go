package alertpage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/connectors/cap"
	"github.com/ponte-pa/ponte/internal/gateway/alertpage"
	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/alert"
)

// capOf writes a CAP alert of the sample comune with identifier id; istat,
// when given, is the area's comune.
func capOf(t *testing.T, tn *tenant.Tenant, id, istat string) []byte {
	t.Helper()
	d := &alert.Definition{Colour: cap.Arancione, Risk: cap.Idraulico, Phase: cap.Preallarme,
		Headline:    tenant.Localized{IT: "Piena del fiume dalla regione", EN: "River flood from the region"},
		Description: tenant.Localized{IT: "Il centro funzionale prevede la piena.", EN: "The regional centre forecasts a flood."}}
	if istat != "" {
		d.Area = &alert.AreaDef{ISTAT: []string{istat}}
	}
	al, err := d.ToCAP(tn, id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	b, err := cap.Marshal(al)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// updateOf is an Update of the CAP alert b.
func updateOf(t *testing.T, b []byte) []byte {
	t.Helper()
	al, err := cap.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	sent, err := al.Sent.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	al.References = al.Sender + "," + al.Identifier + "," + string(sent)
	al.Identifier, al.MsgType = al.Identifier+".v2", "Update"
	out, err := cap.Marshal(al)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type pushAnswer struct {
	status  int
	result  alertpage.PushResult
	problem struct {
		Title  string
		Status int
		Detail string
	}
	header http.Header
}

func push(t *testing.T, e *env, token string, body []byte) pushAnswer {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, e.page+"/cap", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/xml")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	a := pushAnswer{status: resp.StatusCode, header: resp.Header}
	target := any(&a.result)
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/problem+json") {
		target = &a.problem
	}
	if err := json.Unmarshal(b, target); err != nil {
		t.Fatalf("HTTP %d, not JSON: %v\n%s", resp.StatusCode, err, b)
	}
	return a
}

// TestPushCAP: the push endpoint refuses a missing or wrong token (401), a
// body that is not CAP (400), an alert of another comune or a message
// that is not a new alert (422), and starts nothing then; a CAP alert of
// the comune starts an alert awaiting confirmation (202), the same
// message again answers 200 with the same alert, and an operator confirms
// it on the page.
func TestPushCAP(t *testing.T) {
	e := start(t, 5)
	ctx := context.Background()
	tn, err := e.rt.Tenant("esempio")
	if err != nil {
		t.Fatal(err)
	}
	good := capOf(t, tn, "IT-REGIONE.2026.0042", "")
	for _, c := range []struct {
		name, token string
		body        []byte
		status      int
	}{
		{"no token", "", good, http.StatusUnauthorized},
		{"wrong token", "push-token-for-tests-onlx", good, http.StatusUnauthorized},
		{"token prefix", pushToken[:10], good, http.StatusUnauthorized},
		{"not CAP", pushToken, []byte("<alert>nope</alert>"), http.StatusBadRequest},
		{"too large", pushToken, bytes.Repeat([]byte("x"), 2<<20), http.StatusRequestEntityTooLarge},
		{"another comune", pushToken, capOf(t, tn, "IT-REGIONE.2026.0043", "058091"), http.StatusUnprocessableEntity},
		{"an update", pushToken, updateOf(t, good), http.StatusUnprocessableEntity},
	} {
		a := push(t, e, c.token, c.body)
		if a.status != c.status || a.problem.Status != c.status || a.problem.Title == "" {
			t.Errorf("%s: HTTP %d %+v, want %d with a problem", c.name, a.status, a.problem, c.status)
		}
		if c.status == http.StatusUnauthorized && !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: no WWW-Authenticate: Bearer", c.name)
		}
	}
	if recs, err := e.st.List(ctx, "esempio", 10); err != nil || len(recs) != 0 {
		t.Fatalf("refused pushes started %d alerts (%v)", len(recs), err)
	}

	first := push(t, e, pushToken, good)
	if first.status != http.StatusAccepted || !first.result.Created || first.result.AlertID != "esempio.IT-REGIONE.2026.0042" ||
		first.result.State != alert.StateAwaiting || !strings.HasSuffix(first.result.URL, "/allerte/a/esempio.IT-REGIONE.2026.0042") {
		t.Fatalf("first push: HTTP %d %+v", first.status, first.result)
	}
	again := push(t, e, pushToken, good)
	if again.status != http.StatusOK || again.result.Created || again.result.AlertID != first.result.AlertID {
		t.Fatalf("same push again: HTTP %d %+v", again.status, again.result)
	}
	b := gatewaytest.NewBrowser()
	e.login(t, b, "operatore")
	v := e.waitProgress(t, b, first.result.AlertID, alert.StateAwaiting)
	if v.Progress.Reached != 0 || len(e.mocks.IO.Messages()) != 0 {
		t.Fatalf("a pushed alert was sent before confirmation: %+v", v.Progress)
	}
	if recs, err := e.st.List(ctx, "esempio", 10); err != nil || len(recs) != 1 || recs[0].Origin != "push" {
		t.Fatalf("alerts after two pushes: %+v (%v)", recs, err)
	}
	p, err := b.Get(ctx, e.base+first.result.URL)
	if err != nil {
		t.Fatal(err)
	}
	f := formOf(t, p, "/confirm")
	f.Values.Set("confirm", "confermo")
	if p, err = b.Submit(ctx, f); err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Text("done"), "confermato") {
		t.Fatalf("confirm: HTTP %d\n%s", p.Status, p.Body)
	}
	v = e.waitProgress(t, b, first.result.AlertID, alert.StateDone)
	if v.Progress.ConfirmedBy != "RSSMRA85T10A562S" || v.Progress.Reached == 0 {
		t.Errorf("after the confirmation: %+v", v.Progress)
	}
}
