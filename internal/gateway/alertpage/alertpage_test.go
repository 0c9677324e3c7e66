package alertpage_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ponte-pa/ponte/internal/gateway/gatewaytest"
)

// TestOperatorSendsFollowsAndCancels walks the page without JavaScript:
// the operator logs in with SPID, previews a template's alert (Italian and
// English texts per channel, SMS segments), sends it after confirming,
// follows it to the end with the people not reached and their contacts,
// updates it and cancels it — the real workflow on the embedded Temporal
// server against the mocks.
func TestOperatorSendsFollowsAndCancels(t *testing.T) {
	e := start(t, 30)
	b := gatewaytest.NewBrowser()
	end := e.login(t, b, "operatore")
	if end.Status != http.StatusOK || len(end.Links("")) == 0 || !strings.Contains(end.Body, "Accesso effettuato") {
		t.Fatalf("login ends on HTTP %d:\n%s", end.Status, end.Body)
	}
	ctx := context.Background()
	p, err := b.Get(ctx, end.Links("")[0].URL)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Text("operator"), "RSSMRA85T10A562S") {
		t.Fatalf("compose page: HTTP %d, operator %q", p.Status, p.Text("operator"))
	}
	f := formOf(t, p, "/allerte/")
	f.Values.Set("headline_it", "Piena del torrente Esempio stanotte")
	f.Values.Set("headline_en", "Esempio stream flood tonight")
	f.Values.Set("action", "preview")
	p, err = b.Submit(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK {
		t.Fatalf("preview: HTTP %d\n%s", p.Status, p.Body)
	}
	for id, want := range map[string]string{
		"preview-it-sms":   "ALLERTA ARANCIONE",
		"preview-en-sms":   "ORANGE ALERT",
		"preview-it-appio": "Piena del torrente Esempio stanotte",
		"preview-en-email": "Esempio stream flood tonight",
		"segments-it":      "SMS",
	} {
		if got := p.Text(id); !strings.Contains(got, want) {
			t.Errorf("preview %s = %q, want it to contain %q", id, got, want)
		}
	}
	if got := p.Text("len-it-appio-subject"); !strings.Contains(got, "/120") {
		t.Errorf("App IO subject length %q", got)
	}
	// Send without confirming: refused, nothing started.
	f = formOf(t, p, "/allerte/")
	f.Values.Set("action", "send")
	if p, err = b.Submit(ctx, f); err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusUnprocessableEntity || !strings.Contains(p.Text("err-confirm"), "confermo") {
		t.Fatalf("send without confirmation: HTTP %d, error %q", p.Status, p.Text("err-confirm"))
	}
	if recs, err := e.st.List(ctx, "esempio", 10); err != nil || len(recs) != 0 {
		t.Fatalf("an unconfirmed send started %d alerts (%v)", len(recs), err)
	}
	f = formOf(t, p, "/allerte/")
	f.Values.Set("confirm", "confermo")
	f.Values.Set("retype", "arancione")
	f.Values.Set("action", "send")
	if p, err = b.Submit(ctx, f); err != nil {
		t.Fatal(err)
	}
	id := p.Text("alert-id")
	if p.Status != http.StatusOK || id == "" {
		t.Fatalf("send: HTTP %d at %s\n%s", p.Status, p.URL, p.Body)
	}
	v := e.waitProgress(t, b, id, "done")
	reachable := 0
	for _, x := range e.people {
		if x.Reachable() {
			reachable++
		}
	}
	if v.Progress.Reached != reachable || v.UnreachedTotal != len(e.people)-reachable || len(v.Unreached) != v.UnreachedTotal {
		t.Errorf("reached %d (want %d), unreached %d listed %d, of %d", v.Progress.Reached, reachable, v.UnreachedTotal, len(v.Unreached), len(e.people))
	}
	phones := map[string]bool{}
	for _, x := range e.people {
		if !x.Reachable() && x.Phone != "" {
			phones[x.Phone] = true
		}
	}
	for _, u := range v.Unreached {
		delete(phones, u.Phone)
	}
	if len(phones) > 0 {
		t.Errorf("people not reached missing from the list with their phone: %v", phones)
	}
	if len(v.Channels) == 0 {
		t.Error("no counts per channel")
	}
	rec, err := e.st.Get(ctx, id)
	if err != nil || rec.Origin != "operator:RSSMRA85T10A562S" {
		t.Errorf("alert record %+v (%v): want origin operator:RSSMRA85T10A562S", rec, err)
	}
	// The page itself shows them, without JavaScript.
	if p, err = b.Get(ctx, e.page+"/a/"+id); err != nil {
		t.Fatal(err)
	}
	if got := p.Text("unreached-total"); got != strconv.Itoa(v.UnreachedTotal) {
		t.Errorf("page lists %s unreached, JSON %d", got, v.UnreachedTotal)
	}

	// Update with a bad field: shown next to it, nothing sent.
	f = formOf(t, p, "/update")
	f.Values.Set("headline_it", "")
	if p, err = b.Submit(ctx, f); err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusUnprocessableEntity || p.Text("err-headline_it") == "" {
		t.Fatalf("update without a headline: HTTP %d, error %q", p.Status, p.Text("err-headline_it"))
	}
	f = formOf(t, p, "/update")
	f.Values.Set("headline_it", "Il torrente cresce ancora")
	if p, err = b.Submit(ctx, f); err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK || p.Text("done") == "" {
		t.Fatalf("update: HTTP %d\n%s", p.Status, p.Body)
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		v = e.waitProgress(t, b, id, "done")
		if v.Progress.Version == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if v.Progress.Version != 2 || v.Progress.MsgType != "Update" {
		t.Fatalf("after the update: version %d %s", v.Progress.Version, v.Progress.MsgType)
	}

	f = formOf(t, p, "/cancel")
	f.Values.Set("reason_it", "Il livello del torrente è rientrato.")
	if p, err = b.Submit(ctx, f); err != nil {
		t.Fatal(err)
	}
	if p.Status != http.StatusOK || !strings.Contains(p.Text("done"), "Revoca") {
		t.Fatalf("cancel: HTTP %d\n%s", p.Status, p.Body)
	}
	v = e.waitProgress(t, b, id, "cancelled")
	if v.Progress.MsgType != "Cancel" || v.Progress.Revoked == 0 {
		t.Errorf("after the cancel: %+v", v.Progress)
	}
	// The list of recent alerts has it.
	if p, err = b.Get(ctx, e.page+"/"); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(p.Text("recent"), id) {
		t.Errorf("recent alerts %q lack %s", p.Text("recent"), id)
	}
}

// TestOnlyOperatorsWithTheFormToken: a citizen who logs in but is not in
// alerts.operators gets 403; an operator's POST without the form's CSRF
// token (or with another) is refused and starts nothing; a bad CAP or a
// definition the schema refuses is shown next to its field, and starts
// nothing.
func TestOnlyOperatorsWithTheFormToken(t *testing.T) {
	e := start(t, 5)
	ctx := context.Background()
	citizen := gatewaytest.NewBrowser()
	p := e.login(t, citizen, "mario")
	if p.Status != http.StatusForbidden || !strings.Contains(p.Text("forbidden"), "RSSMRA80A01H501U") ||
		!strings.Contains(p.Text("forbidden"), "not among the civil protection operators") {
		t.Fatalf("a citizen who is not an operator: HTTP %d\n%s", p.Status, p.Body)
	}
	if p, err := citizen.Get(ctx, e.page+"/"); err != nil || p.Status != http.StatusUnauthorized {
		t.Fatalf("the citizen then opens the page: %v, HTTP %d", err, p.Status)
	}

	b := gatewaytest.NewBrowser()
	e.login(t, b, "operatore")
	p, err := b.Get(ctx, e.page+"/")
	if err != nil {
		t.Fatal(err)
	}
	f := formOf(t, p, "/allerte/")
	f.Values.Set("confirm", "confermo")
	f.Values.Set("retype", "arancione")
	f.Values.Set("action", "send")
	for _, token := range []string{"", "forged"} {
		g := &gatewaytest.Form{Action: f.Action, Method: f.Method, Values: url.Values{}}
		for k, v := range f.Values {
			g.Values[k] = v
		}
		if token == "" {
			g.Values.Del("csrf")
		} else {
			g.Values.Set("csrf", token)
		}
		r, err := b.Submit(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusForbidden {
			t.Errorf("POST with CSRF token %q: HTTP %d, want 403", token, r.Status)
		}
	}
	// Bad inputs.
	bad := func(field string, set map[string]string) {
		t.Helper()
		g := &gatewaytest.Form{Action: f.Action, Method: f.Method, Values: url.Values{}}
		for k, v := range f.Values {
			g.Values[k] = v
		}
		for k, v := range set {
			g.Values.Set(k, v)
		}
		r, err := b.Submit(ctx, g)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != http.StatusUnprocessableEntity || r.Text("err-"+field) == "" {
			t.Errorf("%v: HTTP %d, error next to %s %q", set, r.Status, field, r.Text("err-"+field))
		}
	}
	bad("colour", map[string]string{"colour": "viola"})
	bad("headline_it", map[string]string{"headline_it": ""})
	bad("istat", map[string]string{"area": "istat", "istat": "12"})
	bad("istat", map[string]string{"area": "istat", "istat": "058091"})
	bad("zones", map[string]string{"area": "zones"})
	bad("cap", map[string]string{"source": "cap", "cap": "<alert>not CAP</alert>"})
	bad("expires", map[string]string{"expires": "a week"})
	if recs, err := e.st.List(ctx, "esempio", 10); err != nil || len(recs) != 0 {
		t.Fatalf("refused forms started %d alerts (%v)", len(recs), err)
	}
	// Without a session the progress JSON says so.
	resp, err := http.Get(e.page + "/a/x/progress")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if cerr := resp.Body.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "login required") {
		t.Errorf("progress without a session: HTTP %d %s", resp.StatusCode, body)
	}
}
