package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/connectors/appio"
	"github.com/ponte-pa/ponte/connectors/legacy"
	"github.com/ponte-pa/ponte/connectors/pagopa/notice"
	"github.com/ponte-pa/ponte/internal/metrics"
	"github.com/ponte-pa/ponte/internal/runtime"
	"github.com/ponte-pa/ponte/internal/tenant"
	appiomock "github.com/ponte-pa/ponte/mocks/appio"
	crmmock "github.com/ponte-pa/ponte/mocks/crm"
	"github.com/ponte-pa/ponte/mocks/mockset"
	"github.com/ponte-pa/ponte/mocks/record"
	smsmock "github.com/ponte-pa/ponte/mocks/sms"
	smtpmock "github.com/ponte-pa/ponte/mocks/smtp"
	"github.com/ponte-pa/ponte/workflows/campaign"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

func runDemo(ctx context.Context, args []string) error {
	fs := newFlags("demo", "demo [--dir ponte-demo] [--keep]")
	dir := fs.String("dir", "ponte-demo", "work directory for the sample comune's files, the state store and Temporal's data (recreated)")
	keep := fs.Bool("keep", false, "keep the embedded server, workers and mocks running after the campaign, for exploring")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error (logs go to stderr)")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	lvl, err := parseLevel(*logLevel)
	if err != nil {
		return err
	}
	return demo(ctx, stdout, demoOptions{Dir: *dir, Keep: *keep, Logger: newLogger(lvl)})
}

type demoOptions struct {
	Dir    string
	Keep   bool
	Logger *slog.Logger
	// InMemory keeps Temporal and the state store in memory (tests).
	InMemory bool
	// Metrics, when set, collects the run's metrics (tests scrape it).
	Metrics *metrics.Metrics
}

// demoResult is what the demo found, for its test.
type demoResult struct {
	Progress      campaign.Progress
	Items         []campaign.Item
	Rejects       []legacy.Reject
	GPDPositions  int
	IOMessages    int
	Emails        int
	Reconcile     reconcile.Result
	PaidOnGPD     int
	Recorded      record.Summary
	TemporalStart time.Duration
	CampaignWall  time.Duration
	Alert         *demoAlertResult
	Report        *demoReportResult
	TotalWall     time.Duration
}

func demo(ctx context.Context, w io.Writer, o demoOptions) error {
	_, err := demoRun(ctx, w, o)
	return err
}

func demoRun(ctx context.Context, w io.Writer, o demoOptions) (*demoResult, error) {
	begin := time.Now()
	res := &demoResult{}
	abs, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.RemoveAll(abs); err != nil {
		return nil, fmt.Errorf("cleaning %s: %w", abs, err)
	}
	fmt.Fprintf(w, "Ponte demo — payment-notice campaign, Protezione Civile alert and a citizen report for a sample comune\n\n")

	// 1. Mocks of the national platforms, on free loopback ports, and the
	// sample comune: tenant config, secrets, the SMTP relay's CA
	// certificate and a tributi CSV export.
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, err
	}
	// Every call to the mocks is recorded and judged by the official
	// contracts, as `ponte mocks --record` does for a comune's own system.
	rec, err := record.New(filepath.Join(abs, "recording"))
	if err != nil {
		return nil, err
	}
	defer rec.Close()
	mocks, err := mockset.Start(mockset.Options{Record: rec, Config: mockset.Config{smtpmock.Kind: mockset.SampleSMTP(abs)}})
	if err != nil {
		return nil, err
	}
	defer mocks.Close()
	tenantPath, err := tenant.WriteSample(abs, map[string]string{"GPDURL": mocks.GPDURL, "IOURL": mocks.IOURL, "SMTPAddr": mocks.SMTPAddr,
		"SMSURL": mocks.URL(smsmock.Kind), "WebhookURL": mocks.WebhookURL})
	if err != nil {
		return nil, fmt.Errorf("writing the sample comune: %w", err)
	}
	// Citizen reports go to the CRM mock (cmd/ponte/demo_reports.go).
	if err := demoReportsConfig(tenantPath, mocks.URL(crmmock.Kind)); err != nil {
		return nil, err
	}
	t, err := tenant.Load(tenantPath)
	if err != nil {
		return nil, err
	}
	profiles, story, err := demoProfiles(ctx, t)
	if err != nil {
		return nil, err
	}
	for fc, p := range profiles {
		mocks.IO.SetProfile(fc, p)
	}
	fmt.Fprintf(w, "  comune        %s (%s), IPA %s, tenant config %s\n", t.Name.IT, t.FiscalCode, t.IPACode, rel(tenantPath))
	fmt.Fprintf(w, "  GPD mock      %s\n  App IO mock   %s\n  SMTP mock     %s (STARTTLS, AUTH)\n  App IO story  %s\n", mocks.GPDURL, mocks.IOURL, mocks.SMTPAddr, story)

	// 3. Temporal inside this process, a worker per task queue.
	cfg := runtime.Config{Tenants: []string{tenantPath}, UI: o.Keep}
	if !o.InMemory {
		cfg.DataDir = filepath.Join(abs, "data")
	}
	cfg.Logger, cfg.Metrics = o.Logger, o.Metrics
	rt, err := runtime.Start(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	res.TemporalStart = rt.Server.StartupTime()
	if err := rt.StartWorkers(ctx, runtime.WorkerOptions{IORateLimit: appio.DefaultRateLimit, IORateWindow: appio.DefaultRateWindow,
		ReportDir: filepath.Join(abs, "reports")}); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "  Temporal      embedded server at %s, ready in %s\n\n", rt.Server.HostPort(), res.TemporalStart.Round(time.Millisecond))

	// 4. The campaign.
	// The sample's due dates may be past on the day the demo runs: use the
	// tenant's default term from today, as an operator would for a new campaign.
	days := t.CampaignDefaults.DueInDays
	if days <= 0 {
		days = 30
	}
	in := campaign.Input{
		CampaignID: "tari-2026", TenantID: t.ID, Source: firstSource(t),
		Subject: "TARI 2026 - tassa rifiuti", SubjectEN: "TARI 2026 - waste tax", BatchSize: 5,
		DueDate: time.Now().AddDate(0, 0, days).Format("2006-01-02"),
		// Reminders to whoever has not paid, 7 and 1 days before the due date.
		ReminderDaysBefore: []int{7, 1},
	}
	started := time.Now()
	run, err := rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: campaign.WorkflowID(in.TenantID, in.CampaignID), TaskQueue: campaign.QueueWorkflows,
	}, campaign.WorkflowName, in)
	if err != nil {
		return nil, fmt.Errorf("starting the campaign: %w", err)
	}
	fmt.Fprintf(w, "Campaign %q started (due date %s): workflow %s\n", in.CampaignID, in.DueDate, run.GetID())
	p, err := waitCampaign(ctx, rt.Client, run, w)
	if err != nil {
		return nil, err
	}
	res.Progress = p
	res.CampaignWall = time.Since(started)

	// 5. What happened, debtor by debtor, and what the platforms received.
	fmt.Fprintln(w)
	cs, err := campaign.NewStore(ctx, rt.DB)
	if err != nil {
		return nil, err
	}
	if err := printReport(ctx, w, cs, in.CampaignID, nil); err != nil {
		return nil, err
	}
	if res.Items, err = cs.AllItems(ctx, in.CampaignID); err != nil {
		return nil, err
	}
	if res.Rejects, err = cs.Rejects(ctx, in.CampaignID); err != nil {
		return nil, err
	}
	res.GPDPositions = len(mocks.GPD.Positions(t.FiscalCode))
	res.IOMessages = len(mocks.IO.Messages())
	res.Emails = len(mocks.SMTP.Messages())
	fmt.Fprintln(w, "\nTotals")
	printProgress(w, p)
	fmt.Fprintf(w, "\nChecked on the mocks: %d debt positions on GPD, %d messages delivered to App IO, %d emails on the SMTP relay.\n", res.GPDPositions, res.IOMessages, res.Emails)

	// 6. Some citizens pay; reconciliation finds out and the report says so.
	if err := demoPayAndReconcile(ctx, w, rt, mocks, t, in.CampaignID, res); err != nil {
		return nil, err
	}
	// A Protezione Civile alert to the same comune's residents
	// (cmd/ponte/demo_alert.go).
	if res.Alert, err = demoAlert(ctx, w, abs, rt, mocks, t); err != nil {
		return nil, err
	}
	// A citizen's report through Open311 to the comune's CRM
	// (cmd/ponte/demo_reports.go).
	if res.Report, err = demoReports(ctx, w, rt, mocks, t); err != nil {
		return nil, err
	}
	// SPID login on the same comune (cmd/ponte/demo_spid.go).
	fmt.Fprintln(w)
	spidDemo, err := demoSPID(ctx, w, abs, mocks, rt.DB, o.Keep, o.Logger)
	if err != nil {
		return nil, err
	}
	defer spidDemo.Stop()
	if err := demoConformance(w, rec, res); err != nil {
		return nil, err
	}
	res.TotalWall = time.Since(begin)
	fmt.Fprintf(w, "Campaign took %s; the whole demo %s.\n", res.CampaignWall.Round(time.Millisecond), res.TotalWall.Round(time.Millisecond))
	fmt.Fprintf(w, "\nWhere to look:\n  %s  the sample comune: edit tenant.yaml or debtors.csv and run again\n", rel(abs)+string(os.PathSeparator))
	if !o.InMemory {
		fmt.Fprintf(w, "  %s  Temporal's history (SQLite); %s the state store\n", rel(filepath.Join(cfg.DataDir, "temporal.db")), rel(filepath.Join(cfg.DataDir, "state.db")))
	}
	if !o.Keep {
		fmt.Fprintf(w, "  ponte demo --keep      keeps everything running to explore the mocks and Temporal\n")
		return res, nil
	}
	fmt.Fprintf(w, "  %s/__mock/positions?org=%s   positions on the GPD mock\n", mocks.GPDURL, t.FiscalCode)
	fmt.Fprintf(w, "  %s/__mock/messages   messages on the App IO mock\n", trimAPI(mocks.IOURL))
	if rt.UI != nil {
		fmt.Fprintf(w, "  %s/namespaces/default/workflows   Temporal Web UI: the campaign's history\n", rt.UI.URL())
	}
	fmt.Fprintf(w, "  temporal workflow show --address %s -w %s   the campaign's history (Temporal CLI)\n", rt.Server.HostPort(), run.GetID())
	fmt.Fprintf(w, "\nRunning until Ctrl-C.\n")
	<-ctx.Done()
	return res, nil
}

// demoPayAndReconcile pays three of the notices through the Nodo simulator
// (a PSP paying on GPD), runs one reconciliation and prints what it found.
func demoPayAndReconcile(ctx context.Context, w io.Writer, rt *runtime.Runtime, mocks *mockset.Set, t *tenant.Tenant, campaignID string, res *demoResult) error {
	fmt.Fprintln(w, "\nPayments (the Nodo simulator plays a citizen paying at a PSP; GPD records the receipt)")
	for _, it := range res.Items {
		if res.PaidOnGPD == 3 {
			break
		}
		if it.NAV == "" || it.State != campaign.StatePublished {
			continue
		}
		r, err := mocks.Nodo.PayGPD(ctx, t.FiscalCode, it.NAV)
		if err != nil {
			return fmt.Errorf("paying %s through the Nodo simulator: %w", it.NAV, err)
		}
		res.PaidOnGPD++
		fmt.Fprintf(w, "  %s %s paid %s € for notice %s at PSP %s\n", it.Name, it.Surname, notice.FormatAmount(r.AmountCents, "it"), it.NAV, r.PSP.Name)
	}
	run, err := rt.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: reconcile.WorkflowID(t.ID), TaskQueue: reconcile.QueueWorkflows},
		reconcile.WorkflowName, reconcile.Input{TenantID: t.ID, CampaignID: campaignID})
	if err != nil {
		return fmt.Errorf("starting the reconciliation: %w", err)
	}
	if err := run.Get(ctx, &res.Reconcile); err != nil {
		return fmt.Errorf("reconciliation: %w", err)
	}
	fmt.Fprintln(w, "\nReconciliation (receipts from GPD matched to the campaign)")
	printReconcile(w, res.Reconcile)
	return nil
}

// demoProfiles seeds the App IO mock so that the demo shows every outcome:
// most debtors are on IO, one prefers English, one is not on IO, one has
// blocked the comune's service.
func demoProfiles(ctx context.Context, t *tenant.Tenant) (map[string]appiomock.ProfileSpec, string, error) {
	src := t.Sources[firstSource(t)]
	s, err := legacy.OpenSource(src.Kind, src.Config, t.Dir)
	if err != nil {
		return nil, "", err
	}
	var fcs []string
	if _, err := s.Read(ctx, func(d legacy.Debtor) error { fcs = append(fcs, d.FiscalCode); return nil },
		func(legacy.Reject) error { return nil }); err != nil {
		return nil, "", err
	}
	profiles := map[string]appiomock.ProfileSpec{}
	for i, fc := range fcs {
		switch i {
		case 2: // not on App IO: left out of the registry
		case 4:
			profiles[fc] = appiomock.ProfileSpec{SenderAllowed: false, Languages: []string{"it_IT"}}
		case 1:
			profiles[fc] = appiomock.ProfileSpec{SenderAllowed: true, Languages: []string{"en_GB"}}
		default:
			profiles[fc] = appiomock.ProfileSpec{SenderAllowed: true, Languages: []string{"it_IT"}}
		}
	}
	story := "all valid debtors on IO except 1 not registered and 1 who blocked the service; 1 reads English"
	return profiles, story, nil
}

func firstSource(t *tenant.Tenant) string {
	names := make([]string, 0, len(t.Sources))
	for n := range t.Sources {
		names = append(names, n)
	}
	if len(names) == 0 {
		return ""
	}
	min := names[0]
	for _, n := range names {
		if n < min {
			min = n
		}
	}
	return min
}

func rel(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if r, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return p
}

// demoConformance says what the recording of the mocks holds: how many
// calls each platform's mock received and whether every one kept the
// official contract. A call that broke one fails the demo: it is a bug.
func demoConformance(w io.Writer, rec *record.Recorder, res *demoResult) error {
	s, err := record.Summarize(rec.Dir())
	if err != nil {
		return err
	}
	res.Recorded = s
	fmt.Fprintln(w, "\nConformance (every call to the mocks, judged by the official contracts)")
	printRecording(w, s)
	fmt.Fprintf(w, "  recording  %s (one JSON line per call; ponte mocks --record does the same for your system)\n", rel(rec.Dir()))
	if !s.Conforms() {
		return fmt.Errorf("%d calls to the mocks broke the official contracts", len(s.Violations))
	}
	return nil
}
