package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	"github.com/ponte-pa/ponte/mocks/mockset"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
	"github.com/ponte-pa/ponte/workflows/alert"
)

// demoAlertDefinition is the alert the demo sends: what an operator
// writes in alert.yaml.
const demoAlertDefinition = `colour: arancione
risk: idraulico
phase: preallarme
headline:
  it: Piena del torrente Esempio nella notte
  en: The Esempio stream will rise overnight
description:
  it: Dalle 22 sono attese piogge intense e la piena del torrente Esempio, con possibili allagamenti nelle zone basse.
  en: Heavy rain is expected from 10 pm and the Esempio stream will rise, with possible flooding in low-lying areas.
instruction:
  it: Non sostare vicino agli argini, non scendere in cantine e sottopassi, spostare le auto dalle zone basse.
  en: Keep away from the banks, do not go down to cellars or underpasses, move cars away from low-lying areas.
web: https://www.comune.esempio.it/allerta
contact: Sala operativa 0123 456789
expiresInHours: 24
`

// demoAlertResult is what the alert part of the demo checked.
type demoAlertResult struct {
	Progress alert.Progress
	Report   *alert.Report
	Revoked  int
	SMS      int
	Webhooks int
}

// demoAlert sends an orange flood alert to the sample comune's residents
// (residenti.csv): some on App IO, the others reached by SMS or e-mail
// when App IO cannot, one by nothing; prints the delivery report, writes the list
// of people not reached and the CAP messages, then cancels the alert.
func demoAlert(ctx context.Context, w io.Writer, dir string, rt *runtime.Runtime, mocks *mockset.Set, t *tenant.Tenant) (*demoAlertResult, error) {
	fmt.Fprintln(w, "\nProtezione Civile alert (CAP 1.2) to the residents in residenti.csv")
	for _, fc := range []string{"RSSMRA85T10A562S", "FRRGNN65E50L219U"} {
		mocks.IO.SetProfile(fc, appiomock.ProfileSpec{SenderAllowed: true, Languages: []string{"it_IT"}})
	}
	// Marco Conti is known only by his fiscal code, and turned the alerts
	// service off in App IO: nobody can reach him, and the report says so.
	mocks.IO.SetProfile("CNTMRC70B18G273M", appiomock.ProfileSpec{SenderAllowed: false, Languages: []string{"it_IT"}})
	defPath := filepath.Join(dir, "alert.yaml")
	if err := os.WriteFile(defPath, []byte(demoAlertDefinition), 0o644); err != nil {
		return nil, err
	}
	def, err := alert.LoadDefinition(defPath)
	if err != nil {
		return nil, err
	}
	id := "demo-" + time.Now().Format("20060102-150405")
	in := alert.Input{AlertID: id, TenantID: t.ID, Definition: def, Origin: "demo"}
	run, err := rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: alert.WorkflowID(t.ID, id), TaskQueue: alert.Queue}, alert.WorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("starting the alert: %w", err)
	}
	fmt.Fprintf(w, "Alert %q started from %s (arancione, idraulico, preallarme): workflow %s\n", id, rel(defPath), run.GetID())
	p, err := waitAlert(ctx, rt.Client, run.GetID(), w)
	if err != nil {
		return nil, err
	}
	printAlertProgress(w, p)
	st, err := alert.NewStore(ctx, rt.DB)
	if err != nil {
		return nil, err
	}
	rep, err := alert.BuildReport(ctx, st, id)
	if err != nil {
		return nil, err
	}
	fmt.Fprintln(w)
	printAlertReport(w, rep)
	res := &demoAlertResult{Progress: p, Report: rep}
	csvPath := filepath.Join(dir, "reports", "alert-"+id+"-unreached.csv")
	if err := os.MkdirAll(filepath.Dir(csvPath), 0o755); err != nil {
		return nil, err
	}
	if err := writeFileWith(csvPath, func(w io.Writer) error { return rep.WriteCSV(w, true) }); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "  people to phone: %s\n", rel(csvPath))

	// The stream goes back within its banks: the operator cancels, and
	// everyone reached is told.
	if err := rt.Client.SignalWorkflow(ctx, run.GetID(), "", alert.SignalCancel, alert.Change{Cancel: true, By: "demo",
		Reason: tenant.Localized{IT: "Il torrente è rientrato negli argini: cessato allarme.", EN: "The stream is back within its banks: the alert is over."}}); err != nil {
		return nil, err
	}
	var final alert.Progress
	if err := run.Get(ctx, &final); err != nil {
		return nil, fmt.Errorf("alert %s: %w", id, err)
	}
	res.Revoked = final.Revoked
	if res.Report, err = alert.BuildReport(ctx, st, id); err != nil { // with the cancel's messages
		return nil, err
	}
	vs, err := st.Versions(ctx, id)
	if err != nil {
		return nil, err
	}
	for _, v := range vs {
		p := filepath.Join(dir, "reports", fmt.Sprintf("alert-%s-v%d-%s.xml", id, v.Version, v.MsgType))
		if err := os.WriteFile(p, []byte(v.CAP), 0o644); err != nil {
			return nil, err
		}
	}
	res.SMS = len(mocks.Mock(smsmock.Kind).(*smsmock.Server).Messages())
	res.Webhooks = len(mocks.Webhook.Deliveries())
	fmt.Fprintf(w, "Alert cancelled: %d people told; the %d CAP messages (Alert, Cancel) are in %s\n", final.Revoked, len(vs), rel(filepath.Join(dir, "reports")))
	fmt.Fprintf(w, "Checked on the mocks: %d SMS on the gateway, %d signed webhooks to the sirens.\n", res.SMS, res.Webhooks)
	return res, nil
}
