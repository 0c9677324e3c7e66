package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/campaign"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

var campaignCommands = []*command{
	{name: "start", summary: "start a payment campaign from a definition file (schemas/campaign.schema.json), or from --source and --subject", run: campaignStart},
	{name: "status", summary: "print a campaign's progress counts (a Temporal query)", run: campaignStatus},
	{name: "pause", summary: "stop starting new batches", run: campaignSignal("pause", campaign.SignalPause)},
	{name: "resume", summary: "start new batches again after a pause", run: campaignSignal("resume", campaign.SignalResume)},
	{name: "cancel", summary: "stop a running campaign and invalidate its unpaid debt positions on GPD (paid ones are left alone and counted)", run: campaignCancel},
	{name: "report", summary: "the final per-debtor report from the state store (fiscal code, name, NAV, IUPD, channel, IO message id, status, paid date, error) with totals", run: campaignReport},
	{name: "print", summary: "one PDF with the payment notices of the debtors no digital channel reached, for printing and postal delivery", run: campaignPrint},
}

const campaignNotes = `
The campaign id may be given as --id ID or as the argument: ponte campaign report tari-2026 --csv r.csv
start, status, pause, resume and cancel talk to Temporal: --temporal host:port (default 127.0.0.1:7233,
what 'ponte serve --dev' listens on), --namespace and, for a cluster with mTLS, --tls-ca, --tls-cert,
--tls-key and --tls-server-name, as for 'ponte worker'. report and print read the state store (--state).`

// workflowTarget is the flags of a subcommand that acts on one running
// thing (a campaign, an alert) through Temporal: the cluster flags,
// --tenant and --id (or the argument), and how they name its workflow.
type workflowTarget struct {
	temporal   *temporalFlags
	tenant, id *string
	name       func(tenant, id string) string
}

func addCampaignTarget(fs *flag.FlagSet) *workflowTarget {
	return &workflowTarget{temporal: addTemporalFlags(fs, devFrontend), tenant: tenantFlag(fs), id: campaignIDFlag(fs), name: campaign.WorkflowID}
}

func tenantFlag(fs *flag.FlagSet) *string {
	return fs.String("tenant", "", "tenant id (as in its config)")
}

func campaignIDFlag(fs *flag.FlagSet) *string {
	return fs.String("id", "", "campaign id, unique per tenant (e.g. tari-2026); may be given as the argument instead")
}

// campaignID is the campaign id, from --id or from the one argument.
func campaignID(id string, args []string) (string, error) {
	switch {
	case len(args) == 0:
		return id, nil
	case len(args) == 1 && id == "":
		return args[0], nil
	}
	return "", usagef("unexpected arguments %q: give the campaign id once, as --id ID or as an argument", args)
}

// workflowID checks --tenant and the id and names the workflow.
func (t *workflowTarget) workflowID(args []string) (string, error) {
	id, err := campaignID(*t.id, args)
	if err != nil {
		return "", err
	}
	if id == "" || *t.tenant == "" {
		return "", usagef("--tenant and --id are required (the id may be given as the argument)")
	}
	*t.id = id
	return t.name(*t.tenant, id), nil
}

// run names the workflow from args, connects to Temporal and calls fn.
func (t *workflowTarget) run(args []string, fn func(c client.Client, wfID string) error) error {
	wfID, err := t.workflowID(args)
	if err != nil {
		return err
	}
	c, err := dialTemporal(t.temporal)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(c, wfID)
}

func campaignStart(ctx context.Context, args []string) error {
	fs := newFlags("campaign start", `campaign start --tenant T --definition campaign.yaml [--wait]
       ponte campaign start --tenant T --id ID --source S --subject "TARI 2026" [--subject-en …] [--due YYYY-MM-DD] [--wait]`)
	ct := addCampaignTarget(fs)
	defPath := fs.String("definition", "", "campaign definition file (YAML or JSON, schemas/campaign.schema.json): id, source, subject it/en, due date, reminders, fallback, batching")
	source := fs.String("source", "", "without --definition: name of the tenant's legacy source")
	subject := fs.String("subject", "", "without --definition: subject in Italian (e.g. \"TARI 2026\")")
	subjectEN := fs.String("subject-en", "", "without --definition: subject in English")
	due := fs.String("due", "", "without --definition: due date YYYY-MM-DD for every debtor (default: the source's per-debtor date)")
	batch := fs.Int("batch", 100, "without --definition: debtors per batch activity")
	wait := fs.Bool("wait", false, "wait for the campaign to finish, printing progress")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	id, err := campaignID(*ct.id, args)
	if err != nil {
		return err
	}
	var def *campaign.Definition
	if *defPath != "" {
		if *source != "" || *subject != "" || *subjectEN != "" || *due != "" {
			return usagef("--definition already says the source, subject and due date: drop --source, --subject, --subject-en and --due")
		}
		if def, err = campaign.LoadDefinition(*defPath); err != nil {
			return usageError{err: err}
		}
		if id != "" && id != def.ID {
			return usagef("--id %s differs from the definition's id %s: drop --id", id, def.ID)
		}
		id = def.ID
	}
	*ct.id = id
	wfID, err := ct.workflowID(nil)
	if err != nil {
		return err
	}
	var in campaign.Input
	if def != nil {
		in = def.Input(*ct.tenant)
	} else {
		if *source == "" || *subject == "" {
			return usagef("start needs --definition FILE, or --source and --subject")
		}
		if *due != "" {
			if _, err := time.Parse("2006-01-02", *due); err != nil {
				return usagef("--due %q: use YYYY-MM-DD", *due)
			}
		}
		in = campaign.Input{CampaignID: id, TenantID: *ct.tenant, Source: *source, Subject: *subject, SubjectEN: *subjectEN, DueDate: *due, BatchSize: *batch}
	}
	c, err := dialTemporal(ct.temporal)
	if err != nil {
		return err
	}
	defer c.Close()
	run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: wfID, TaskQueue: campaign.QueueWorkflows}, campaign.WorkflowName, in)
	if err != nil {
		return fmt.Errorf("starting campaign %s: %w", wfID, err)
	}
	fmt.Fprintf(stdout, "campaign started: workflow %s run %s\n", run.GetID(), run.GetRunID())
	if !*wait {
		return nil
	}
	p, err := waitCampaign(ctx, c, run, stdout)
	if err != nil {
		return err
	}
	printProgress(stdout, p)
	return nil
}

func campaignStatus(ctx context.Context, args []string) error {
	fs := newFlags("campaign status", "campaign status --tenant T --id ID")
	ct := addCampaignTarget(fs)
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	return ct.run(args, func(c client.Client, wfID string) error {
		p, err := queryProgress(ctx, c, wfID)
		if err != nil {
			return err
		}
		printProgress(stdout, p)
		return nil
	})
}

// campaignSignal is pause or resume: a signal to the campaign's workflow.
func campaignSignal(sub, signal string) func(context.Context, []string) error {
	return func(ctx context.Context, args []string) error {
		fs := newFlags("campaign "+sub, "campaign "+sub+" --tenant T --id ID")
		ct := addCampaignTarget(fs)
		args, err := parseFlags(fs, args)
		if err != nil {
			return err
		}
		return ct.run(args, func(c client.Client, wfID string) error {
			if err := c.SignalWorkflow(ctx, wfID, "", signal, nil); err != nil {
				return fmt.Errorf("%s %s: %w", sub, wfID, err)
			}
			fmt.Fprintf(stdout, "%s sent to %s\n", sub, wfID)
			return nil
		})
	}
}

func campaignCancel(ctx context.Context, args []string) error {
	fs := newFlags("campaign cancel", "campaign cancel --tenant T --id ID [--wait]")
	ct := addCampaignTarget(fs)
	wait := fs.Bool("wait", false, "wait until the cancellation is done, printing progress")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	return ct.run(args, func(c client.Client, wfID string) error { return cancelCampaign(ctx, c, wfID, *wait) })
}

func stateFlag(fs *flag.FlagSet) *string {
	return fs.String("state", ".ponte/dev/state.db", "the state store the workers use: postgres://… or a SQLite file path")
}

func campaignReport(ctx context.Context, args []string) error {
	fs := newFlags("campaign report", "campaign report --id ID [--state DSN] [--csv FILE] [--json FILE]")
	stateDSN := stateFlag(fs)
	idFlag := campaignIDFlag(fs)
	tenantID := fs.String("tenant", "", "tenant id: with --csv or --json, check that the campaign is this tenant's")
	csvOut := fs.String("csv", "", "write the final report as CSV to this file")
	jsonOut := fs.String("json", "", "write the final report as JSON to this file")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	id, err := campaignID(*idFlag, args)
	if err != nil {
		return err
	}
	if id == "" {
		return usagef("--id is required")
	}
	db, err := store.Open(ctx, *stateDSN)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := reconcile.NewStore(ctx, db)
	if err != nil {
		return err
	}
	if *csvOut == "" && *jsonOut == "" {
		pays, err := st.Payments(ctx, id)
		if err != nil {
			return err
		}
		return printReport(ctx, stdout, st.Campaigns, id, pays)
	}
	return writeCampaignReport(ctx, st, id, *tenantID, *csvOut, *jsonOut)
}

func campaignPrint(ctx context.Context, args []string) error {
	fs := newFlags("campaign print", "campaign print --id ID --config tenant.yaml --out avvisi.pdf [--state DSN] [--due YYYY-MM-DD]")
	stateDSN := stateFlag(fs)
	idFlag := campaignIDFlag(fs)
	tenantCfg := fs.String("config", "", "the tenant's config file (ente name and fiscal code on the notices)")
	pdfOut := fs.String("out", "", "the PDF file to write")
	due := fs.String("due", "", "due date YYYY-MM-DD printed on the notices (default: the campaign's)")
	args, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	id, err := campaignID(*idFlag, args)
	if err != nil {
		return err
	}
	if id == "" {
		return usagef("--id is required")
	}
	return printCampaignNotices(ctx, *stateDSN, *tenantCfg, id, *due, *pdfOut)
}

func queryProgress(ctx context.Context, c client.Client, wfID string) (campaign.Progress, error) {
	var p campaign.Progress
	v, err := c.QueryWorkflow(ctx, wfID, "", campaign.QueryProgress)
	if err != nil {
		return p, fmt.Errorf("query %s: %w", wfID, err)
	}
	return p, v.Get(&p)
}

// waitCampaign prints progress while the campaign runs: a redrawn line on a
// terminal, one plain line every few seconds otherwise (CI logs).
func waitCampaign(ctx context.Context, c client.Client, run client.WorkflowRun, w io.Writer) (campaign.Progress, error) {
	done := make(chan error, 1)
	var result campaign.Progress
	go func() { done <- run.Get(ctx, &result) }()
	tty := false
	if f, ok := w.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	last := time.Time{}
	for {
		select {
		case err := <-done:
			if tty {
				fmt.Fprintln(w)
			}
			if err != nil {
				return result, fmt.Errorf("campaign %s failed: %w", run.GetID(), err)
			}
			return result, nil
		case <-tick.C:
			if !tty && time.Since(last) < 3*time.Second {
				continue
			}
			last = time.Now()
			p, err := queryProgress(ctx, c, run.GetID())
			if err != nil {
				continue
			}
			line := progressLine(p)
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		}
	}
}

func progressLine(p campaign.Progress) string {
	const width = 24
	frac := 0.0
	if p.Batches > 0 {
		frac = float64(p.PositionBatches+p.MessageBatches) / float64(2*p.Batches)
	}
	n := int(frac * width)
	bar := strings.Repeat("#", n) + strings.Repeat(".", width-n)
	paused := ""
	if p.Paused {
		paused = " PAUSED"
	}
	return fmt.Sprintf("[%s] %3.0f%% %-9s read %d, valid %d, rejected %d, positions %d, IO sent %d%s",
		bar, frac*100, p.Phase, p.Read, p.Valid, p.Rejected, p.PositionsPublished, p.MessagesSent, paused)
}

func printProgress(w io.Writer, p campaign.Progress) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "phase\t%s\n", p.Phase)
	fmt.Fprintf(tw, "rows read\t%d\t(valid %d + rejected %d)\n", p.Read, p.Valid, p.Rejected)
	fmt.Fprintf(tw, "debt positions published\t%d\t(failed %d)\n", p.PositionsPublished, p.PositionsFailed)
	fmt.Fprintf(tw, "App IO messages sent\t%d\n", p.MessagesSent)
	fmt.Fprintf(tw, "not on App IO\t%d\t(fallback channel needed)\n", p.NotOnIO)
	fmt.Fprintf(tw, "IO messages not allowed by citizen\t%d\n", p.SenderNotAllowed)
	fmt.Fprintf(tw, "IO messages failed / to check\t%d / %d\n", p.MessagesFailed, p.MessagesUnknown)
	fmt.Fprintf(tw, "fallback emails sent / failed\t%d / %d\n", p.EmailsSent, p.EmailsFailed)
	fmt.Fprintf(tw, "notices to print and post\t%d\t(no email address or relay)\n", p.NeedPrint)
	if p.CancelRequested {
		fmt.Fprintf(tw, "cancel\t%s\n", map[bool]string{true: "done", false: "in progress"}[p.Cancelled])
		fmt.Fprintf(tw, "positions invalidated on GPD\t%d\n", p.PositionsInvalidated)
		fmt.Fprintf(tw, "positions already paid (kept)\t%d\n", p.CancelPaidKept)
		fmt.Fprintf(tw, "items without a position\t%d\n", p.CancelNotCreated)
		fmt.Fprintf(tw, "positions not invalidated (see report)\t%d\n", p.CancelFailed)
	}
	if !p.FinishedAt.IsZero() {
		fmt.Fprintf(tw, "duration\t%s\n", p.FinishedAt.Sub(p.StartedAt).Round(time.Millisecond))
	}
	if p.RemindersWorkflowID != "" {
		fmt.Fprintf(tw, "reminders\tscheduled in workflow %s (unpaid debtors only)\n", p.RemindersWorkflowID)
	}
	_ = tw.Flush()
}

// printReport prints a campaign's items and rejects; with pays (from
// reconciliation) it adds what each debtor paid.
func printReport(ctx context.Context, w io.Writer, st *campaign.Store, id string, pays map[int]campaign.Payment) error {
	items, err := st.AllItems(ctx, id)
	if err != nil {
		return err
	}
	rejects, err := st.Rejects(ctx, id)
	if err != nil {
		return err
	}
	if len(items) == 0 && len(rejects) == 0 {
		return errors.New("no campaign " + id + " in this state store (check --state)")
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	payCol := ""
	if pays != nil {
		payCol = "\tPAYMENT"
	}
	fmt.Fprintln(tw, "LINE\tFISCAL CODE\tDEBTOR\tAMOUNT €\tNOTICE CODE (NAV)\tPOSITION\tAPP IO\tFALLBACK"+payCol+"\tNOTE")
	for _, it := range items {
		note := it.PositionError
		if note == "" {
			note = it.IOError
		}
		if it.IOMessageID != "" {
			note = "IO message " + it.IOMessageID
		}
		if it.FallbackError != "" {
			note = it.FallbackError
		}
		pay := ""
		if pays != nil {
			pay = "\t-"
			if p, ok := pays[it.Seq]; ok {
				pay = fmt.Sprintf("\t%s %s", p.State, p.PaidDate)
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d,%02d\t%s\t%s\t%s\t%s%s\t%s\n", it.Line, it.FiscalCode,
			clipS(strings.TrimSpace(it.Name+" "+it.Surname), 24), it.AmountCents/100, it.AmountCents%100,
			it.NAV, it.State, orDash(it.IOState), fallbackCell(it), pay, clipS(note, 90))
	}
	_ = tw.Flush()
	if len(rejects) > 0 {
		fmt.Fprintf(w, "\nRejected rows (%d) — fix them in the source and run a new campaign for them:\n", len(rejects))
		for _, r := range rejects {
			fmt.Fprintf(w, "  %s line %d, field %s = %q: %s\n    (it) %s\n", r.Source, r.Line, r.Field, r.Value, r.MessageEN, r.MessageIT)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clipS(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// cancelCampaign sends the cancel signal. Only a running campaign can be
// cancelled: a finished one has no workflow left to do it.
func cancelCampaign(ctx context.Context, c client.Client, wfID string, wait bool) error {
	d, err := c.DescribeWorkflowExecution(ctx, wfID, "")
	if err != nil {
		return fmt.Errorf("cancel %s: %w (is the campaign id right?)", wfID, err)
	}
	if st := d.GetWorkflowExecutionInfo().GetStatus(); st != enums.WORKFLOW_EXECUTION_STATUS_RUNNING {
		return fmt.Errorf("campaign %s is not running (%s): only a running campaign can be cancelled", wfID, st)
	}
	if err := c.SignalWorkflow(ctx, wfID, "", campaign.SignalCancel, nil); err != nil {
		return fmt.Errorf("cancel %s: %w", wfID, err)
	}
	fmt.Fprintf(stdout, "cancel sent to %s: no new work is issued; unpaid debt positions will be invalidated\n", wfID)
	if !wait {
		return nil
	}
	p, err := waitCampaign(ctx, c, c.GetWorkflow(ctx, wfID, ""), stdout)
	if err != nil {
		return err
	}
	printProgress(stdout, p)
	return nil
}

// writeCampaignReport writes the final report of a campaign as CSV and/or
// JSON, and prints its totals.
// printCampaignNotices writes the print batch of a campaign.
func printCampaignNotices(ctx context.Context, dsn, tenantCfg, id, due, out string) error {
	if tenantCfg == "" || out == "" {
		return usagef("print needs --config tenant.yaml and --out FILE.pdf")
	}
	t, err := tenant.Load(tenantCfg)
	if err != nil {
		return usageError{err: err}
	}
	db, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	st, err := campaign.NewStore(ctx, db)
	if err != nil {
		return err
	}
	meta, err := st.Meta(ctx, id)
	if err != nil {
		return fmt.Errorf("%w (is --state the store the workers use?)", err)
	}
	if meta.TenantID != t.ID {
		return usagef("campaign %s belongs to tenant %s, not %s (%s)", id, meta.TenantID, t.ID, tenantCfg)
	}
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	n, err := campaign.WritePrintBatch(ctx, st, t, id, meta.Subject, due, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(out)
		return err
	}
	if n == 0 {
		_ = os.Remove(out)
		fmt.Fprintf(stdout, "campaign %s: every debtor was reached on App IO or by email; nothing to print\n", id)
		return nil
	}
	fmt.Fprintf(stdout, "campaign %s: %d payment notices to print and post written to %s\n", id, n, out)
	return nil
}

func writeCampaignReport(ctx context.Context, st *reconcile.Store, id, tenantID, csvPath, jsonPath string) error {
	pays, err := st.Payments(ctx, id)
	if err != nil {
		return err
	}
	r, err := st.Campaigns.BuildReport(ctx, id, pays)
	if err != nil {
		return err
	}
	if tenantID != "" && r.TenantID != "" && r.TenantID != tenantID {
		return usagef("campaign %s belongs to tenant %s, not %s", id, r.TenantID, tenantID)
	}
	write := func(path string, fn func(io.Writer) error) error {
		if path == "" {
			return nil
		}
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			_ = f.Close()
			return fmt.Errorf("writing %s: %w", path, err)
		}
		return f.Close()
	}
	if err := write(csvPath, r.WriteCSV); err != nil {
		return err
	}
	if err := write(jsonPath, r.WriteJSON); err != nil {
		return err
	}
	t := r.Totals
	fmt.Fprintf(stdout, "campaign %s: %d source rows = %d valid + %d rejected\n", id, t.SourceRows, t.Valid, t.Rejected)
	for _, s := range []string{campaign.StatusPaid, campaign.StatusPartiallyPaid, campaign.StatusUnpaid, campaign.StatusCancelled,
		campaign.StatusPositionFailed, campaign.StatusPending} {
		if n := t.ByStatus[s]; n > 0 {
			fmt.Fprintf(stdout, "  %-16s %6d   %s\n", s, n, campaign.StatusLabels[s])
		}
	}
	fmt.Fprintf(stdout, "  channels: io %d, email %d, print %d, none %d\n", t.ByChannel[campaign.ChannelIO], t.ByChannel[campaign.ChannelEmail],
		t.ByChannel[campaign.ChannelPrint], t.ByChannel[campaign.ChannelNone])
	fmt.Fprintf(stdout, "  amount due € %s, paid € %s\n", euros(t.AmountDueCents), euros(t.AmountPaidCents))
	for _, p := range []string{csvPath, jsonPath} {
		if p != "" {
			fmt.Fprintf(stdout, "written: %s\n", p)
		}
	}
	return nil
}

func euros(c int64) string { return fmt.Sprintf("%d,%02d", c/100, c%100) }

// fallbackCell is the fallback's state, or the channel it went through
// when sent (email, sms…).
func fallbackCell(it campaign.Item) string {
	if it.FallbackState == campaign.FallbackSent && it.FallbackChannel != "" {
		return it.FallbackChannel
	}
	return orDash(it.FallbackState)
}
