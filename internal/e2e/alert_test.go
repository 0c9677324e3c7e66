package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/connectors/channels"
	"github.com/ponte-pa/ponte/internal/fixtures"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	capfeedmock "github.com/ponte-pa/ponte/mocks/capfeed"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/workflows/alert"
)

type alertEnv struct {
	rt     *runtime.Runtime
	mocks  *mockset.Set
	tenant *tenant.Tenant
	st     *alert.Store
}

func newAlertEnv(t *testing.T, ps []fixtures.Resident, outside int, sms smsmock.Options) *alertEnv {
	t.Helper()
	profiles := map[string]appiomock.ProfileSpec{}
	for _, p := range ps {
		if p.FiscalCode != "" && p.OnIO {
			profiles[p.FiscalCode] = appiomock.ProfileSpec{SenderAllowed: true}
		}
		if p.Phone != "" && !p.SMSWorks {
			sms.Unreachable = append(sms.Unreachable, p.Phone)
		}
	}
	dir := t.TempDir()
	mocks, err := mockset.Start(mockset.Options{Config: mockset.Config{appiomock.Kind: appiomock.Options{Profiles: profiles}, smsmock.Kind: sms,
		smtpmock.Kind: mockset.SampleSMTP(dir)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mocks.Close)
	path, err := tenant.WriteSample(dir, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL, "SMTPAddr": mocks.SMTPAddr,
		"SMSURL": mocks.URL(smsmock.Kind), "WebhookURL": mocks.WebhookURL})
	if err != nil {
		t.Fatal(err)
	}
	if err := fixtures.WriteResidentsCSV(filepath.Join(dir, "residenti.csv"), ps, outside); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := startRuntime(t, path)
	tn, err := rt.Tenant("esempio")
	if err != nil {
		t.Fatal(err)
	}
	st, err := alert.NewStore(ctx, rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	return &alertEnv{rt: rt, mocks: mocks, tenant: tn, st: st}
}

func (e *alertEnv) start(t *testing.T, in alert.Input) {
	t.Helper()
	if _, err := e.rt.Client.ExecuteWorkflow(context.Background(), client.StartWorkflowOptions{ID: alert.WorkflowID(in.TenantID, in.AlertID), TaskQueue: alert.Queue}, alert.WorkflowName, in); err != nil {
		t.Fatal(err)
	}
}

// waitPhase polls the alert until its phase is one of phases.
func (e *alertEnv) waitPhase(t *testing.T, id string, version int, phases ...string) alert.Progress {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	var p alert.Progress
	for time.Now().Before(deadline) {
		v, err := e.rt.Client.QueryWorkflow(context.Background(), alert.WorkflowID(e.tenant.ID, id), "", alert.QueryProgress)
		if err == nil && v.Get(&p) == nil && p.Version >= version {
			for _, ph := range phases {
				if p.Phase == ph {
					return p
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("alert %s never reached %v (last %+v)", id, phases, p)
	return p
}

func definition(t *testing.T, colour, headline string) *alert.Definition {
	t.Helper()
	d, err := alert.ParseDefinition("alert.yaml", []byte(fmt.Sprintf(`colour: %s
risk: idraulico
phase: preallarme
headline: {it: %q, en: "River flood warning"}
description: {it: "Piena del torrente nella notte, possibili allagamenti.", en: "The stream will rise tonight; flooding is possible."}
instruction: {it: "Non sostare vicino agli argini.", en: "Keep away from the banks."}
web: https://www.comune.esempio.it/allerta
`, colour, headline)))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestAlertReachesEveryoneOrListsThem: 2,000 residents with mixed
// channels, one in ten not on App IO, the SMS gateway refusing a fifth of
// the numbers and failing a fifth of its requests for a moment: every person with a working channel is reached (through
// fallback when their first channel fails), the others are listed with
// their contacts, people of another comune get nothing, the counts add
// up, and nobody gets a message twice on one channel.
func TestAlertReachesEveryoneOrListsThem(t *testing.T) {
	ps := fixtures.Residents(2000, 1)
	e := newAlertEnv(t, ps, 50, smsmock.Options{})
	// Besides the numbers it refuses, the gateway fails one request in
	// five for a moment (503): those messages are sent again.
	e.mocks.Mock(smsmock.Kind).(*smsmock.Server).Faults().SetErrorRate(0.2, 7)
	in := alert.Input{AlertID: "flood-1", TenantID: e.tenant.ID, Definition: definition(t, "arancione", "Piena del torrente Esempio"),
		Origin: "test", BatchSize: 250, EscalateAfter: time.Hour}
	e.start(t, in)
	p := e.waitPhase(t, in.AlertID, 1, alert.StateDone)

	want := 0
	for _, x := range ps {
		if x.Reachable() {
			want++
		}
	}
	if p.Stage.Recipients != len(ps) || p.Stage.Outside != 50 {
		t.Fatalf("staged %+v, want %d recipients and 50 outside the area", p.Stage, len(ps))
	}
	if p.Reached != want || p.Reached+p.Unreached != len(ps) {
		t.Errorf("reached %d (want %d), not reached %d, of %d", p.Reached, want, p.Unreached, len(ps))
	}
	r, err := alert.BuildReport(context.Background(), e.st, in.AlertID)
	if err != nil {
		t.Fatal(err)
	}
	if r.Reached != want || r.Unreached != len(ps)-want || len(r.People) != len(ps) {
		t.Errorf("report: reached %d, unreached %d, people %d", r.Reached, r.Unreached, len(r.People))
	}
	byFC := map[string]alert.PersonOutcome{}
	for _, po := range r.People {
		byFC[po.Key] = po
	}
	for i, x := range ps {
		po := byFC[x.ID]
		if po.Reached != x.Reachable() {
			t.Errorf("person %d (%+v): reached %v, attempts %v", i, x, po.Reached, po.Attempts)
		}
		if !po.Reached && x.Phone != "" && po.Phone != x.Phone {
			t.Errorf("person %d not reached is listed without their phone: %+v", i, po)
		}
	}
	// The mocks got each message once.
	sent := map[string]int{}
	for _, c := range r.Channels {
		if c.State == channels.StateSent || c.State == alert.StateDelivered {
			sent[c.Channel] += c.Count
		}
	}
	if got := len(e.mocks.IO.Messages()); got != sent["appio"] {
		t.Errorf("App IO mock holds %d messages, the outbox says %d sent", got, sent["appio"])
	}
	smsMock := e.mocks.Mock(smsmock.Kind).(*smsmock.Server)
	resent := 0
	for _, m := range smsMock.Messages() {
		resent += m.Resent
	}
	if got := len(smsMock.Messages()); got != sent["sms"] || resent != 0 {
		t.Errorf("SMS mock holds %d messages (%d resent), the outbox says %d sent", got, resent, sent["sms"])
	}
	if got := len(e.mocks.SMTP.Messages()); got != sent["email"] {
		t.Errorf("SMTP mock holds %d messages, the outbox says %d sent", got, sent["email"])
	}
	if d := e.mocks.Webhook.Deliveries(); len(d) != 1 || p.Webhooks != 1 {
		t.Errorf("webhook deliveries %d (progress %d), want 1; channels %v; refused %v", len(d), p.Webhooks, r.Channels, e.mocks.Webhook.Refused())
	}
	// English speakers read English.
	for _, m := range e.mocks.IO.Messages() {
		if m.FiscalCode == ps[7].FiscalCode && !strings.Contains(m.Subject, "ORANGE ALERT") {
			t.Errorf("English speaker got %q", m.Subject)
		}
	}
	var csv strings.Builder
	if err := r.WriteCSV(&csv, true); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(csv.String(), "\n"); lines != len(ps)-want+1 {
		t.Errorf("unreached CSV has %d lines, want %d", lines, len(ps)-want+1)
	}
}

// entriesBy counts the outbox entries of an alert by version slot prefix
// ("v1") and person.
func entriesBy(t *testing.T, st *alert.Store, id string) map[string]map[int64][]channels.Entry {
	t.Helper()
	es, err := st.Outbox().All(context.Background(), alert.Scope(id))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[int64][]channels.Entry{}
	for _, e := range es {
		v, _, _ := strings.Cut(e.Slot, ":")
		if out[v] == nil {
			out[v] = map[int64][]channels.Entry{}
		}
		out[v][e.Item] = append(out[v][e.Item], e)
	}
	return out
}

func anySent(es []channels.Entry) bool {
	for _, e := range es {
		if e.State == channels.StateSent || e.State == alert.StateDelivered {
			return true
		}
	}
	return false
}

// TestAlertUpdateAndCancelMidFlight: while an alert waits for SMS
// delivery receipts before escalating, an Update reaches everyone the
// first version reached and the escalation of the first version never
// happens; a Cancel then stops sending and tells each person reached,
// once; the three CAP messages are kept, the later ones referencing the
// earlier.
func TestAlertUpdateAndCancelMidFlight(t *testing.T) {
	ps := fixtures.Residents(60, 2)
	// Receipts never come while the test runs: SMS recipients wait.
	e := newAlertEnv(t, ps, 0, smsmock.Options{DeliverAfter: time.Hour})
	ctx := context.Background()
	in := alert.Input{AlertID: "flood-2", TenantID: e.tenant.ID, Definition: definition(t, "giallo", "Possibile piena del torrente"),
		Origin: "test", BatchSize: 25, EscalateAfter: time.Hour}
	run, err := e.rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: alert.WorkflowID(in.TenantID, in.AlertID), TaskQueue: alert.Queue}, alert.WorkflowName, in)
	if err != nil {
		t.Fatal(err)
	}
	p1 := e.waitPhase(t, in.AlertID, 1, "escalating")
	if p1.Waiting == 0 {
		t.Fatalf("no SMS waits for its receipt: %+v", p1)
	}
	before := entriesBy(t, e.st, in.AlertID)["v1"]
	reached1 := 0
	for item, es := range before {
		if item > 0 && anySent(es) { // item 0: the webhooks
			reached1++
		}
	}
	if err := e.rt.Client.SignalWorkflow(ctx, run.GetID(), "", alert.SignalUpdate, alert.Change{Definition: definition(t, "arancione", "Piena in arrivo: salire ai piani alti"), By: "test"}); err != nil {
		t.Fatal(err)
	}
	p2 := e.waitPhase(t, in.AlertID, 2, "escalating", alert.StateDone)
	if p2.MsgType != "Update" {
		t.Fatalf("version 2 is %s", p2.MsgType)
	}
	after := entriesBy(t, e.st, in.AlertID)
	for item, es := range after["v1"] {
		if len(es) != len(before[item]) {
			t.Errorf("person %d got %d first-version messages after the update, had %d: the old version kept escalating", item, len(es), len(before[item]))
		}
	}
	for item, es := range before {
		if anySent(es) && !anySent(after["v2"][item]) {
			t.Errorf("person %d was reached by the alert but not by the update: %+v", item, after["v2"][item])
		}
	}
	if err := e.rt.Client.SignalWorkflow(ctx, run.GetID(), "", alert.SignalCancel, alert.Change{Cancel: true,
		Reason: tenant.Localized{IT: "Il torrente è rientrato negli argini.", EN: "The stream is back within its banks."}, By: "test"}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var p alert.Progress
	if err := run.Get(wctx, &p); err != nil {
		t.Fatal(err)
	}
	final := entriesBy(t, e.st, in.AlertID)
	told := 0
	for item := range final["v1"] {
		if item == 0 {
			continue // the webhooks' deliveries, not a person
		}
		reached := anySent(final["v1"][item]) || anySent(final["v2"][item])
		switch n := len(final["v3"][item]); {
		case reached && n != 1:
			t.Errorf("person %d was reached and got %d cancel messages", item, n)
		case !reached && n != 0:
			t.Errorf("person %d was never reached and got a cancel", item)
		}
		if reached {
			told++
		}
	}
	if p.Phase != alert.StateCancelled || p.Revoked != told || told < reached1 {
		t.Errorf("final %+v: %d people to tell, %d reached by the first version", p, told, reached1)
	}
	vs, err := e.st.Versions(ctx, in.AlertID)
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || vs[0].MsgType != "Alert" || vs[1].MsgType != "Update" || vs[2].MsgType != "Cancel" ||
		!strings.Contains(vs[2].CAP, vs[0].Identifier) || !strings.Contains(vs[2].CAP, vs[1].Identifier) {
		t.Errorf("CAP evidence: %d versions %+v", len(vs), vs)
	}
	rec, err := e.st.Get(ctx, in.AlertID)
	if err != nil || rec.State != alert.StateCancelled {
		t.Errorf("stored alert %+v, %v", rec, err)
	}
}

// TestFeedBulletinStartsAlertsOnlyInItsZone: two comuni follow the
// regional feed; a bulletin for one's zone starts an alert there and
// nowhere else.
func TestFeedBulletinStartsAlertsOnlyInItsZone(t *testing.T) {
	ps := fixtures.Residents(30, 3)
	e := newAlertEnv(t, ps, 0, smsmock.Options{})
	feed := e.mocks.Mock(capfeedmock.Kind).(*capfeedmock.Server)
	feedURL := e.mocks.URL(capfeedmock.Kind) + "/feed.atom"
	follow := "  feeds:\n    - url: " + feedURL + "\n      interval: 1s\n      confirm: false\n"
	// A second comune, in zone EMR-Z2, with the same residents' file.
	dir := filepath.Dir(e.tenant.File)
	data, err := os.ReadFile(e.tenant.File)
	if err != nil {
		t.Fatal(err)
	}
	withFeed := strings.Replace(string(data), "  operators: [RSSMRA85T10A562S]\n", "  operators: [RSSMRA85T10A562S]\n"+follow, 1)
	other := strings.NewReplacer("id: esempio", "id: altro", "istat: [\"099999\"]", "istat: [\"099998\"]", "id: EMR-Z1", "id: EMR-Z2").Replace(withFeed)
	if err := os.WriteFile(e.tenant.File, []byte(withFeed), 0o600); err != nil {
		t.Fatal(err)
	}
	otherPath := filepath.Join(dir, "altro.yaml")
	if err := os.WriteFile(otherPath, []byte(other), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	rt := startRuntime(t, e.tenant.File, otherPath)
	st, err := alert.NewStore(ctx, rt.DB)
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range []string{"esempio", "altro"} {
		if _, err := rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: alert.FeedWorkflowID(tid), TaskQueue: alert.Queue}, alert.FeedWorkflowName, alert.FeedInput{TenantID: tid}); err != nil {
			t.Fatal(err)
		}
	}
	id, err := feed.Publish(capfeedmock.Publication{Zones: []string{"EMR-Z1"}, Colour: "arancione", Risk: "idraulico", Phase: "preallarme",
		Headline: map[string]string{"it": "Piena del fiume nella zona Z1", "en": "River flood in zone Z1"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	var p alert.Progress
	for time.Now().Before(deadline) {
		v, err := rt.Client.QueryWorkflow(ctx, alert.WorkflowID("esempio", alert.AlertID("esempio", id)), "", alert.QueryProgress)
		if err == nil && v.Get(&p) == nil && p.Phase == alert.StateDone {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if p.Phase != alert.StateDone || p.Reached == 0 {
		t.Fatalf("the bulletin's alert for esempio: %+v", p)
	}
	// Let the other comune's feed poll at least twice more.
	time.Sleep(3 * time.Second)
	mine, err := st.List(ctx, "esempio", 10)
	if err != nil {
		t.Fatal(err)
	}
	others, err := st.List(ctx, "altro", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(mine) != 1 || !strings.HasPrefix(mine[0].Origin, "feed:") || len(others) != 0 {
		t.Errorf("alerts: esempio %+v, altro %+v; want one from the feed for esempio only", mine, others)
	}

	// A bulletin for both zones: each comune gets an alert of its own.
	both, err := feed.Publish(capfeedmock.Publication{Zones: []string{"EMR-Z1", "EMR-Z2"}, Colour: "rosso", Risk: "vento",
		Headline: map[string]string{"it": "Vento forte su Z1 e Z2", "en": "Strong wind in Z1 and Z2"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tid := range []string{"esempio", "altro"} {
		id := alert.AlertID(tid, both)
		deadline := time.Now().Add(2 * time.Minute)
		var p alert.Progress
		for time.Now().Before(deadline) {
			v, err := rt.Client.QueryWorkflow(ctx, alert.WorkflowID(tid, id), "", alert.QueryProgress)
			if err == nil && v.Get(&p) == nil && p.Phase == alert.StateDone {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		rec, err := st.Get(ctx, id)
		// The residents' file lists people of esempio's comune (099999):
		// altro's own alert finds none of them in its area.
		if p.Phase != alert.StateDone || err != nil || rec.Tenant != tid || (tid == "esempio") != (p.Stage.Recipients > 0) {
			t.Errorf("%s: the regional bulletin's alert %s: %+v, stored %+v (%v)", tid, id, p, rec, err)
		}
	}
}
