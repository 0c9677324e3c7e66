package e2e

import (
	"context"
	"fmt"
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
		smtpmock.Kind: smtpmock.Config{CAFile: filepath.Join(dir, "smtp-ca.pem"),
			Options: smtpmock.Options{Username: mockset.SampleSMTPUser, Password: mockset.SampleSMTPPassword}}}})
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
	rt, err := runtime.Start(ctx, runtime.Config{Tenants: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(rt.Close)
	if err := rt.StartWorkers(ctx, runtime.WorkerOptions{}); err != nil {
		t.Fatal(err)
	}
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
// the numbers: every person with a working channel is reached (through
// fallback when their first channel fails), the others are listed with
// their contacts, people of another comune get nothing, the counts add
// up, and nobody gets a message twice on one channel.
func TestAlertReachesEveryoneOrListsThem(t *testing.T) {
	ps := fixtures.Residents(2000, 1)
	e := newAlertEnv(t, ps, 50, smsmock.Options{})
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
