package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/ponte-pa/ponte/internal/store"
	"github.com/ponte-pa/ponte/internal/tenant"
	"github.com/ponte-pa/ponte/workflows/campaign"
	"github.com/ponte-pa/ponte/workflows/reconcile"
)

func runCampaign(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stdout, `Usage: ponte campaign <start|status|pause|resume|cancel|report> [flags] [ID]

  start   --tenant T --definition campaign.yaml [--wait]
          a campaign definition (schemas/campaign.schema.json): id, source, subject it/en,
          due date, reminders, fallback, batching — or, for a quick run, the flags
          --tenant T --source S --id ID --subject "TARI 2026" [--due YYYY-MM-DD]
  status  --tenant T --id ID       progress counts (a Temporal query)
  pause   --tenant T --id ID       stop starting new batches
  resume  --tenant T --id ID
  cancel  --tenant T --id ID [--wait]   stop the campaign and invalidate its unpaid debt positions
                                   on GPD (paid ones are left alone and counted)
  print   --id ID --state DSN --config tenant.yaml --out avvisi.pdf [--due YYYY-MM-DD]
                                   one PDF with the payment notices of the debtors no digital
                                   channel reached, for printing and postal delivery
  report  --id ID --state DSN [--csv FILE] [--json FILE]
                                   final per-debtor report from the state store (fiscal code,
                                   name, NAV, IUPD, channel, IO message id, status, paid date,
                                   error) with totals; without --csv/--json a table on stdout

The campaign id may also be given as an argument: ponte campaign report tari-2026 --csv r.csv --json r.json
All take --temporal host:port (default 127.0.0.1:7233, what 'ponte serve --dev' listens on) and --namespace.`)
		if len(args) == 0 {
			return usagef("missing subcommand")
		}
		return nil
	}
	sub, args := args[0], args[1:]
	// The campaign id may come first (ponte campaign report tari-2026 --csv r.csv).
	var posID []string
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		posID, args = args[:1], args[1:]
	}
	fs := newFlags("campaign "+sub, "campaign "+sub+" --tenant T --id ID …")
	hostPort := fs.String("temporal", "127.0.0.1:7233", "host:port of the Temporal frontend")
	ns := fs.String("namespace", "default", "Temporal namespace")
	tenantID := fs.String("tenant", "", "tenant id (as in its config)")
	id := fs.String("id", "", "campaign id, unique per tenant (e.g. tari-2026)")
	source := fs.String("source", "", "start: name of the tenant's legacy source")
	subject := fs.String("subject", "", "start: subject in Italian (e.g. \"TARI 2026\")")
	subjectEN := fs.String("subject-en", "", "start: subject in English")
	due := fs.String("due", "", "start: due date YYYY-MM-DD for every debtor (default: the source's per-debtor date)")
	batch := fs.Int("batch", 100, "start: debtors per batch activity")
	defPath := fs.String("definition", "", "start: campaign definition file (YAML or JSON, schemas/campaign.schema.json)")
	wait := fs.Bool("wait", false, "start, cancel: wait for the campaign to finish, printing progress")
	stateDSN := fs.String("state", ".ponte/dev/state.db", "report: the state store the workers use")
	csvOut := fs.String("csv", "", "report: write the final report as CSV to this file")
	jsonOut := fs.String("json", "", "report: write the final report as JSON to this file")
	tenantCfg := fs.String("config", "", "print: the tenant's config file (ente name and fiscal code on the notices)")
	pdfOut := fs.String("out", "", "print: the PDF file to write")
	// Flags may come before or after the id.
	for rest := args; ; {
		if err := parse(fs, rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		posID, rest = append(posID, fs.Arg(0)), fs.Args()[1:]
	}
	switch {
	case len(posID) == 1 && *id == "":
		*id = posID[0]
	case len(posID) > 0:
		return usagef("unexpected arguments %q: give the campaign id once, as --id ID or as an argument", posID)
	}
	var def *campaign.Definition
	if *defPath != "" {
		if sub != "start" {
			return usagef("--definition is for start")
		}
		if *source != "" || *subject != "" || *subjectEN != "" || *due != "" {
			return usagef("--definition already says the source, subject and due date: drop --source, --subject, --subject-en and --due")
		}
		d, err := campaign.LoadDefinition(*defPath)
		if err != nil {
			return usageError{err}
		}
		if *id != "" && *id != d.ID {
			return usagef("--id %s differs from the definition's id %s: drop --id", *id, d.ID)
		}
		def, *id = d, d.ID
	}
	if *id == "" || (*tenantID == "" && sub != "report" && sub != "print") {
		return usagef("--tenant and --id are required")
	}
	wfID := campaign.WorkflowID(*tenantID, *id)
	if sub == "print" {
		return printCampaignNotices(ctx, *stateDSN, *tenantCfg, *id, *due, *pdfOut)
	}
	if sub == "report" {
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
			pays, err := st.Payments(ctx, *id)
			if err != nil {
				return err
			}
			return printReport(ctx, stdout, st.Campaigns, *id, pays)
		}
		return writeCampaignReport(ctx, st, *id, *tenantID, *csvOut, *jsonOut)
	}
	c, err := dialTemporal(*hostPort, *ns)
	if err != nil {
		return err
	}
	defer c.Close()
	switch sub {
	case "start":
		var in campaign.Input
		if def != nil {
			in = def.Input(*tenantID)
		} else {
			if *source == "" || *subject == "" {
				return usagef("start needs --definition FILE, or --source and --subject")
			}
			if *due != "" {
				if _, err := time.Parse("2006-01-02", *due); err != nil {
					return usagef("--due %q: use YYYY-MM-DD", *due)
				}
			}
			in = campaign.Input{CampaignID: *id, TenantID: *tenantID, Source: *source, Subject: *subject, SubjectEN: *subjectEN, DueDate: *due, BatchSize: *batch}
		}
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
	case "status":
		p, err := queryProgress(ctx, c, wfID)
		if err != nil {
			return err
		}
		printProgress(stdout, p)
		return nil
	case "cancel":
		return cancelCampaign(ctx, c, wfID, *wait)
	case "pause", "resume":
		sig := campaign.SignalPause
		if sub == "resume" {
			sig = campaign.SignalResume
		}
		if err := c.SignalWorkflow(ctx, wfID, "", sig, nil); err != nil {
			return fmt.Errorf("%s %s: %w", sub, wfID, err)
		}
		fmt.Fprintf(stdout, "%s sent to %s\n", sub, wfID)
		return nil
	default:
		return usagef("unknown subcommand %q: use start, status, pause, resume, cancel or report", sub)
	}
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
			it.NAV, it.State, orDash(it.IOState), orDash(it.FallbackState), pay, clipS(note, 90))
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
		return usageError{err}
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

// dialTemporal connects the CLI to a Temporal frontend, quietly.
func dialTemporal(hostPort, namespace string) (client.Client, error) {
	c, err := client.Dial(client.Options{HostPort: hostPort, Namespace: namespace,
		Logger: sdklog.NewStructuredLogger(slog.New(slog.DiscardHandler))})
	if err != nil {
		return nil, fmt.Errorf("connecting to Temporal at %s: %w (is 'ponte serve --dev' running?)", hostPort, err)
	}
	return c, nil
}
